/* SPDX-License-Identifier: ISC */
/* IMAP over libetpan: libetpan parses the replies; the commands that carry
 * UID sets, the SASL PLAIN exchange and LOGOUT are written here, because
 * libetpan does not split long sets, has no SASL without Cyrus, and its
 * parser turns the BYE before LOGOUT's OK into a stream error.  Message
 * bodies stream through libetpan's body and FETCH handlers, so memory does
 * not grow with message size. */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>

#include "crash.h"
#include "log.h"
#include "mutf7.h"
#include "source_imap.h"
#include "tls.h"

#define IMAP_BUF 65536
/* More is refused as hostile: the listing is kept in memory. */
#define IMAP_MAX_MSGS 10000000u
/* Longest server text quoted in an error. */
#define IMAP_TEXT_MAX 200
/* Lines read while waiting for the LOGOUT reply. */
#define IMAP_LOGOUT_LINES 16

enum imap_cap {
	CAP_STARTTLS = 1,
	CAP_LOGINDISABLED = 2,
	CAP_AUTH_PLAIN = 4,
	CAP_SASL_IR = 8,
	CAP_UIDPLUS = 16,
	CAP_MOVE = 32,
	CAP_IMAP4REV2 = 64,
};

/* The state of one UID FETCH of bodies (or of header sections): which message the next body
 * belongs to is predicted from the order of IDX, and checked when the
 * server's FETCH reply (with the UID) ends. */
struct fetch_run {
	const size_t *idx;
	size_t next, end; /* predicted position, batch end */
	const struct source_fetch_cb *cb;
	void *ctx;
	bool in_msg; /* begin was called for idx[cur] */
	bool ignore; /* this reply is not for us */
	size_t cur;
	struct source_imap_reply reply;
	struct source_imap_crlf crlf;
	int fail; /* a callback's failure class */
	bool headers; /* BODY[HEADER] instead of BODY[] */
};

/* The listing being collected from FETCH replies. */
struct list_run {
	struct source_msg *msgs;
	size_t n, cap;
	char *err; /* the first problem seen */
};

struct source {
	const struct conf_account *acct;
	mailimap *imap;
	unsigned caps; /* enum imap_cap */
	bool broken;   /* out of step: close without LOGOUT */
	bool have_folders;
	struct source_folder *folders;
	size_t n_folders;
	struct source_listing listing;
	uint32_t *del; /* UIDs marked in the current folder */
	size_t n_del, cap_del;
	struct fetch_run *fetch;      /* during a fetch of bodies */
	struct list_run *list;	      /* during a listing */
	char out[IMAP_BUF + 1];	      /* decoded body bytes */
	char text[IMAP_TEXT_MAX + 1]; /* reply_text's copy */
};

/* --- UID sets, flags, dates (pure) --- */

size_t source_imap_uid_set(const uint32_t *uids, size_t n, char *buf,
			   size_t cap)
{
	size_t len = 0, i = 0;
	char piece[32];

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	while (i < n) {
		size_t j = i;
		while (j + 1 < n && uids[j] != UINT32_MAX &&
		       uids[j + 1] == uids[j] + 1)
			j++;
		int k = i == j ? snprintf(piece, sizeof(piece), "%s%" PRIu32,
					  len > 0 ? "," : "", uids[i])
			       : snprintf(piece, sizeof(piece),
					  "%s%" PRIu32 ":%" PRIu32,
					  len > 0 ? "," : "", uids[i], uids[j]);
		if (k < 0 || len + (size_t)k + 1 > cap)
			break;
		memcpy(buf + len, piece, (size_t)k + 1);
		len += (size_t)k;
		i = j + 1;
	}
	return i;
}

void source_imap_flag_letters(unsigned flags, char out[8])
{
	size_t n = 0;

	if (flags & SOURCE_IMAP_FLAG_DRAFT)
		out[n++] = 'D';
	if (flags & SOURCE_IMAP_FLAG_FLAGGED)
		out[n++] = 'F';
	if (flags & SOURCE_IMAP_FLAG_ANSWERED)
		out[n++] = 'R';
	if (flags & SOURCE_IMAP_FLAG_SEEN)
		out[n++] = 'S';
	out[n] = '\0';
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int source_imap_date(int day, int month, int year, int hour, int min, int sec,
		     int zone, time_t *t_r)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int zabs = zone < 0 ? -zone : zone;

	if (year < 1000 || year > 9999 || month < 1 || month > 12 || day < 1 ||
	    hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 ||
	    sec > 60 || zabs > 2359 || zabs % 100 > 59)
		return -1;
	if (day > mdays[month - 1] + (month == 2 && leap_year(year)))
		return -1;
	int64_t off = (int64_t)(zabs / 100) * 3600 + (zabs % 100) * 60;
	int64_t t =
	    days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 +
	    hour * 3600 + min * 60 + sec - (zone < 0 ? -off : off);
	*t_r = (time_t)t;
	return 0;
}

/* --- CRLF decoder, quoting, SASL (pure) --- */

void source_imap_crlf_init(struct source_imap_crlf *c)
{
	c->cr = false;
}

/* Copies the runs between CRs with memcpy: most of a message is such
 * runs, and a byte-at-a-time loop was a fifth of the CPU of a download. */
size_t source_imap_crlf_run(struct source_imap_crlf *c, const char *in,
			    size_t len, char *out)
{
	size_t o = 0, i = 0;

	if (len > 0 && c->cr) {
		c->cr = false;
		if (in[0] == '\n')
			i = 1;
		out[o++] = in[0] == '\n' ? '\n' : '\r';
	}
	while (i < len) {
		const char *cr = memchr(in + i, '\r', len - i);
		size_t run = cr != NULL ? (size_t)(cr - (in + i)) : len - i;
		memcpy(out + o, in + i, run);
		o += run;
		i += run;
		if (cr == NULL)
			break;
		/* At a CR: CRLF becomes LF; a bare CR stays; a CR at the
		 * end waits for the next chunk. */
		if (i + 1 == len) {
			c->cr = true;
			break;
		}
		if (in[i + 1] == '\n') {
			out[o++] = '\n';
			i += 2;
		} else {
			out[o++] = '\r';
			i++;
		}
	}
	return o;
}

size_t source_imap_crlf_finish(struct source_imap_crlf *c, char *out)
{
	if (!c->cr)
		return 0;
	c->cr = false;
	out[0] = '\r';
	return 1;
}

int source_imap_quote(const char *in, char **out_r)
{
	size_t n = 3;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p == '\r' || *p == '\n' || *p >= 0x80)
			return -1;
		n += *p == '"' || *p == '\\' ? 2 : 1;
	}
	char *out = xmalloc(n), *o = out;
	*o++ = '"';
	for (const char *p = in; *p; p++) {
		if (*p == '"' || *p == '\\')
			*o++ = '\\';
		*o++ = *p;
	}
	*o++ = '"';
	*o = '\0';
	*out_r = out;
	return 0;
}

bool source_imap_has_wildcards(const char *pattern)
{
	return strpbrk(pattern, "*%") != NULL;
}

static char *base64(const unsigned char *in, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? tab[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

char *source_imap_sasl_plain(const char *user, const char *password)
{
	size_t ul = strlen(user), pl = strlen(password);
	unsigned char *msg = xmalloc(ul + pl + 2);

	/* authzid (empty) NUL authcid NUL password (RFC 4616) */
	msg[0] = '\0';
	memcpy(msg + 1, user, ul);
	msg[ul + 1] = '\0';
	memcpy(msg + ul + 2, password, pl);
	char *b64 = base64(msg, ul + pl + 2);
	explicit_bzero(msg, ul + pl + 2);
	free(msg);
	return b64;
}

/* --- listing, batches, verdicts, folders (pure) --- */

static int cmp_index(const void *a, const void *b)
{
	const struct source_msg *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

int source_imap_listing_finish(struct source_listing *l, uint64_t from_uid,
			       char **err_r)
{
	size_t n = 0;

	if (l->n > 1)
		qsort(l->msgs, l->n, sizeof(*l->msgs), cmp_index);
	for (size_t i = 0; i < l->n; i++) {
		if (l->msgs[i].index < from_uid)
			continue;
		if (n > 0 && l->msgs[n - 1].index == l->msgs[i].index) {
			*err_r =
			    xasprintf("server listed UID %" PRIu32 " twice",
				      l->msgs[i].index);
			return -1;
		}
		l->msgs[n++] = l->msgs[i];
	}
	l->n = n;
	return 0;
}

size_t source_imap_batch(const struct source_msg *msgs, const size_t *idx,
			 size_t n, size_t start, char *set, size_t cap)
{
	uint32_t uids[SOURCE_IMAP_BATCH_MSGS];
	uint64_t bytes = 0;
	size_t k = 0;

	for (size_t i = start; i < n && k < SOURCE_IMAP_BATCH_MSGS; i++) {
		uint64_t size = msgs[idx[i]].size;
		if (k > 0 && bytes + size > SOURCE_IMAP_BATCH_BYTES)
			break;
		bytes += size;
		uids[k++] = msgs[idx[i]].index;
	}
	return start + source_imap_uid_set(uids, k, set, cap);
}

/* What is wrong with reply R to message M whatever part was asked for,
 * or NULL. */
static const char *reply_verdict(const struct source_msg *m,
				 const struct source_imap_reply *r)
{
	if (r->uid == 0)
		return "server sent a FETCH reply without UID";
	if (r->uid != m->index)
		return "server sent the reply for another message";
	if (r->stray)
		return "server sent a body part that was not asked for";
	return NULL;
}

const char *source_imap_verdict(const struct source_msg *m,
				const struct source_imap_reply *r)
{
	const char *v = reply_verdict(m, r);

	if (v != NULL)
		return v;
	if (r->nil && m->size > 0)
		return "server sent no body (NIL)";
	if (r->raw_bytes < m->size)
		return "body shorter than the size the server announced";
	if (r->raw_bytes > m->size)
		return "body longer than the size the server announced";
	return NULL;
}

const char *source_imap_header_verdict(const struct source_msg *m,
				       const struct source_imap_reply *r)
{
	const char *v = reply_verdict(m, r);

	if (v != NULL)
		return v;
	if (r->nil && m->size > 0)
		return "server sent no header (NIL)";
	if (r->raw_bytes > m->size)
		return "header longer than the size the server announced";
	return NULL;
}

size_t source_imap_find_uid(const struct source_msg *msgs, const size_t *idx,
			    size_t from, size_t end, uint32_t uid)
{
	for (size_t p = from; p < end; p++)
		if (msgs[idx[p]].index == uid)
			return p;
	return end;
}

/* Parses the decimal number at P (up to END) into *V_R; returns the end
 * of the digits, or NULL. */
static const char *parse_u32(const char *p, const char *end, uint32_t *v_r)
{
	uint64_t v = 0;
	const char *d = p;

	for (; d < end && *d >= '0' && *d <= '9'; d++) {
		v = v * 10 + (uint64_t)(*d - '0');
		if (v > UINT32_MAX)
			return NULL;
	}
	*v_r = (uint32_t)v;
	return d > p ? d : NULL;
}

uint32_t source_imap_peek_uid(const char *buf, size_t len)
{
	static const char tail[] = "BODY[] {", htail[] = "BODY[HEADER] {";
	size_t tl = sizeof(tail) - 1, htl = sizeof(htail) - 1;
	size_t e = len;

	if (e < 3 || memcmp(buf + e - 3, "}\r\n", 3) != 0)
		return 0;
	for (e -= 3; e > 0 && buf[e - 1] >= '0' && buf[e - 1] <= '9'; e--)
		;
	if (e >= htl + 1 && strncasecmp(buf + e - htl, htail, htl) == 0)
		tl = htl;
	else if (e < tl + 1 || strncasecmp(buf + e - tl, tail, tl) != 0)
		return 0;
	size_t body = e - tl, start = body;
	while (start > 0 && !(buf[start] == '*' && buf[start - 1] == '\n'))
		start--;
	if (buf[start] != '*' || body - start < 2 || buf[start + 1] != ' ')
		return 0;
	for (size_t j = start + 2; j + 4 < body; j++) {
		uint32_t uid;
		const char *d;
		if ((buf[j - 1] != '(' && buf[j - 1] != ' ') ||
		    strncasecmp(buf + j, "UID ", 4) != 0)
			continue;
		d = parse_u32(buf + j + 4, buf + body, &uid);
		return d != NULL && (*d == ' ' || *d == ')') ? uid : 0;
	}
	return 0;
}

static bool same_folder(const char *a, const char *b)
{
	if (strcasecmp(a, "INBOX") == 0)
		return strcasecmp(b, "INBOX") == 0;
	return strcmp(a, b) == 0;
}

/* A copy of text with server-sent parts safe to print: no control
 * characters. */
static char *printable(const char *name)
{
	char *p = xstrdup(name);
	for (char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return p;
}

int source_imap_folder_add(struct source_folder **f, size_t *n,
			   const char *name, char sep, char **err_r)
{
	char *display = NULL, *e = NULL;

	for (size_t i = 0; i < *n; i++)
		if (same_folder((*f)[i].name, name))
			return 0;
	char *refused = NULL;

	(void)err_r;
	if (*name == '\0' || mutf7_decode(name, &display, &e) < 0) {
		/* The codec's reason quotes the name too: clean it all.  The
		 * folder stays in the list, refused, so that the others are
		 * polled and the refusal is reported like any bad name. */
		char *msg = xasprintf("server folder \"%s\" has an invalid "
				      "name (%s)",
				      name, e != NULL ? e : "empty");
		refused = printable(msg);
		display = printable(name);
		free(msg);
		free(e);
	}
	*f = xrealloc(*f, (*n + 1) * sizeof(**f));
	(*f)[*n] = (struct source_folder){.name = xstrdup(name),
					  .display = display,
					  .sep = sep,
					  .refused = refused};
	(*n)++;
	return 1;
}

/* --- errors and commands --- */

static void set_err(enum util_fail *fail_r, char **err_r, enum util_fail f,
		    char *msg)
{
	*fail_r = f;
	*err_r = msg;
}

/* Says why the stream failed: our driver's error, or a generic one. */
static char *stream_error(struct source *s)
{
	mailstream *st = s->imap != NULL ? s->imap->imap_stream : NULL;
	char *e = st != NULL ? tls_take_error(mailstream_get_low(st)) : NULL;
	if (e == NULL)
		return xstrdup("connection lost");
	char *msg = xasprintf("connection: %s", e);
	free(e);
	return msg;
}

/* The text of the server's last tagged reply (or DFLT), made safe to
 * print: control characters replaced, at most IMAP_TEXT_MAX bytes.  Valid
 * until the next call. */
static const char *reply_text(struct source *s, const char *dflt)
{
	const char *t = s->imap != NULL ? s->imap->imap_response : NULL;
	size_t n = 0;

	if (t == NULL || *t == '\0')
		return dflt;
	for (; t[n] != '\0' && n < IMAP_TEXT_MAX; n++) {
		unsigned char c = (unsigned char)t[n];
		s->text[n] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	s->text[n] = '\0';
	return s->text;
}

/* Reports a libetpan failure R of the command WHAT.  After any of these
 * the reply stream may be out of step: no more commands. */
static void imap_failed(struct source *s, int r, const char *what,
			enum util_fail *fail_r, char **err_r)
{
	s->broken = true;
	if (r == MAILIMAP_ERROR_MEMORY && s->fetch != NULL &&
	    s->fetch->fail != 0)
		set_err(fail_r, err_r, (enum util_fail)s->fetch->fail,
			xstrdup("delivery failed"));
	else if (r == MAILIMAP_ERROR_STREAM)
		set_err(fail_r, err_r, UTIL_FAIL_TEMP, stream_error(s));
	else if (r == MAILIMAP_ERROR_PARSE)
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			xasprintf("%s: server sent a reply that cannot be "
				  "parsed",
				  what));
	else if (r == MAILIMAP_ERROR_FATAL)
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			xasprintf("%s: server ended the session: %s", what,
				  reply_text(s, "BYE")));
	else if (r == MAILIMAP_ERROR_PROTOCOL)
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			xasprintf("%s rejected by server: %s", what,
				  reply_text(s, "BAD")));
	else
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			xasprintf("%s failed (libetpan error %d)", what, r));
}

/* Writes DATA and flushes; PRIVATE data is masked in the trace. */
static int send_raw(struct source *s, const char *data, bool private)
{
	mailstream *st = s->imap->imap_stream;
	int r = MAILIMAP_NO_ERROR;

	if (private)
		mailstream_set_privacy(st, 0);
	if (mailstream_write(st, data, strlen(data)) < 0 ||
	    mailstream_flush(st) < 0)
		r = MAILIMAP_ERROR_STREAM;
	if (private)
		mailstream_set_privacy(st, 1);
	return r;
}

/* Reads the rest of a reply whose first line is in the buffer; returns
 * the tagged state (MAILIMAP_RESP_COND_STATE_*) in *state_r. */
static int parse_reply(struct source *s, int *state_r)
{
	struct mailimap_response *resp = NULL;
	int r = mailimap_parse_response(s->imap, &resp);

	if (r != MAILIMAP_NO_ERROR)
		return r;
	*state_r =
	    resp->rsp_resp_done->rsp_data.rsp_tagged->rsp_cond_state->rsp_type;
	mailimap_response_free(resp);
	return MAILIMAP_NO_ERROR;
}

/* Sends the command CMD (without CRLF) and reads its reply.  Returns 0
 * for OK, 1 for NO (text in reply_text), -1 with *err_r on a failure. */
static int run_cmd(struct source *s, const char *cmd, const char *what,
		   enum util_fail *fail_r, char **err_r)
{
	int state = MAILIMAP_RESP_COND_STATE_NO;
	int r = mailimap_send_current_tag(s->imap);

	if (r == MAILIMAP_NO_ERROR) {
		char *line = xasprintf("%s\r\n", cmd);
		r = send_raw(s, line, false);
		free(line);
	}
	if (r == MAILIMAP_NO_ERROR && mailimap_read_line(s->imap) == NULL)
		r = MAILIMAP_ERROR_STREAM;
	if (r == MAILIMAP_NO_ERROR)
		r = parse_reply(s, &state);
	if (r != MAILIMAP_NO_ERROR) {
		imap_failed(s, r, what, fail_r, err_r);
		return -1;
	}
	return state == MAILIMAP_RESP_COND_STATE_OK ? 0 : 1;
}

/* Like run_cmd, with a NO turned into a TEMP error naming WHAT. */
static int run_ok(struct source *s, const char *cmd, const char *what,
		  enum util_fail *fail_r, char **err_r)
{
	int r = run_cmd(s, cmd, what, fail_r, err_r);
	if (r > 0)
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			xasprintf("%s refused by server: %s", what,
				  reply_text(s, "NO")));
	return r == 0 ? 0 : -1;
}

/* Runs "PREFIX <set>SUFFIX" over the increasing UIDS, as many commands
 * as the set length needs. */
static int run_uid_cmds(struct source *s, const uint32_t *uids, size_t n,
			const char *prefix, const char *suffix,
			enum util_fail *fail_r, char **err_r)
{
	char set[SOURCE_IMAP_SET_MAX + 1];

	for (size_t done = 0; done < n;) {
		size_t k = source_imap_uid_set(uids + done, n - done, set,
					       sizeof(set));
		char *cmd = xasprintf("%s %s%s", prefix, set, suffix);
		int r = run_ok(s, cmd, prefix, fail_r, err_r);
		free(cmd);
		if (r < 0)
			return -1;
		crash_point(strcmp(prefix, "UID STORE") == 0     ? "store-sent"
			    : strcmp(prefix, "UID EXPUNGE") == 0 ? "expunge-sent"
								 : "move-sent");
		done += k;
	}
	return 0;
}

/* --- the connection --- */

/* The -vv protocol trace: one line per chunk, credentials masked, long
 * data cut short.  Same format as the POP3 trace. */
static void imap_trace(mailimap *imap, int type, const char *str, size_t size,
		       void *ctx)
{
	const struct conf_account *a = ctx;

	(void)imap;
	if (type == MAILSTREAM_LOG_TYPE_DATA_SENT_PRIVATE ||
	    type == MAILSTREAM_LOG_TYPE_DATA_SENT)
		log_trace_wire(a->name, '>',
			       type == MAILSTREAM_LOG_TYPE_DATA_SENT_PRIVATE, str,
			       size);
	else if (type == MAILSTREAM_LOG_TYPE_DATA_RECEIVED)
		log_trace_wire(a->name, '<', false, str, size);
}

static void drop_connection(struct source *s)
{
	if (s->imap == NULL)
		return;
	/* mailimap_free would send LOGOUT on a stream in any state. */
	if (s->imap->imap_stream != NULL)
		mailstream_close(s->imap->imap_stream);
	s->imap->imap_stream = NULL;
	mailimap_free(s->imap);
	s->imap = NULL;
}

static unsigned caps_of(const struct mailimap_capability_data *cd)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
	    {"STARTTLS", CAP_STARTTLS}, {"LOGINDISABLED", CAP_LOGINDISABLED},
	    {"SASL-IR", CAP_SASL_IR},	{"UIDPLUS", CAP_UIDPLUS},
	    {"MOVE", CAP_MOVE},		{"IMAP4rev2", CAP_IMAP4REV2},
	};
	unsigned caps = 0;

	for (clistiter *it = clist_begin(cd->cap_list); it != NULL;
	     it = clist_next(it)) {
		const struct mailimap_capability *c = clist_content(it);
		if (c->cap_type == MAILIMAP_CAPABILITY_AUTH_TYPE) {
			if (c->cap_data.cap_auth_type != NULL &&
			    strcasecmp(c->cap_data.cap_auth_type, "PLAIN") == 0)
				caps |= CAP_AUTH_PLAIN;
			continue;
		}
		for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
			if (c->cap_data.cap_name != NULL &&
			    strcasecmp(c->cap_data.cap_name, names[i].name) ==
				0)
				caps |= names[i].bit;
	}
	return caps;
}

/* Forgets the capabilities libetpan kept (from a greeting or a reply
 * code): after STARTTLS and login they are stale. */
static void forget_caps(struct source *s)
{
	struct mailimap_connection_info *ci = s->imap->imap_connection_info;

	if (ci != NULL && ci->imap_capability != NULL) {
		mailimap_capability_data_free(ci->imap_capability);
		ci->imap_capability = NULL;
	}
}

/* Reads the capabilities: those the server sent unasked since they were
 * last forgotten (greeting, login reply), else with CAPABILITY. */
static int read_caps(struct source *s, enum util_fail *fail_r, char **err_r)
{
	struct mailimap_connection_info *ci = s->imap->imap_connection_info;
	struct mailimap_capability_data *cd = NULL;

	if (ci != NULL && ci->imap_capability != NULL) {
		s->caps = caps_of(ci->imap_capability);
		return 0;
	}
	int r = mailimap_capability(s->imap, &cd);
	if (r == MAILIMAP_ERROR_CAPABILITY) {
		s->caps = 0; /* refused: a server with none */
		return 0;
	}
	if (r != MAILIMAP_NO_ERROR) {
		imap_failed(s, r, "CAPABILITY", fail_r, err_r);
		return -1;
	}
	s->caps = caps_of(cd);
	mailimap_capability_data_free(cd);
	return 0;
}

/* STARTTLS is mandatory once configured: a missing capability, a refusal
 * or bytes sent ahead of the handshake end the session before any
 * credential is sent. */
static int imap_starttls(struct source *s, enum util_fail *fail_r, char **err_r)
{
	mailstream *st = s->imap->imap_stream;
	mailstream_low *plain, *secure;

	if (read_caps(s, fail_r, err_r) < 0)
		return -1;
	if (!(s->caps & CAP_STARTTLS)) {
		set_err(fail_r, err_r, UTIL_FAIL_AUTH,
			xstrdup("server does not offer STARTTLS (tls = "
				"starttls); not logging in without TLS"));
		return -1;
	}
	int r = mailimap_starttls(s->imap);
	if (st->read_buffer_len != 0) {
		s->broken = true;
		set_err(fail_r, err_r, UTIL_FAIL_AUTH,
			xstrdup("server sent data before the TLS handshake "
				"(possible injection attack); not logging in"));
		return -1;
	}
	if (r == MAILIMAP_ERROR_STREAM) {
		imap_failed(s, r, "STARTTLS", fail_r, err_r);
		return -1;
	}
	if (r != MAILIMAP_NO_ERROR) {
		s->broken = true;
		set_err(fail_r, err_r, UTIL_FAIL_AUTH,
			xasprintf("server refused STARTTLS: %s",
				  reply_text(s, "no reply")));
		return -1;
	}
	plain = mailstream_get_low(st);
	if (tls_start(plain, s->acct, &secure, fail_r, err_r) < 0) {
		s->broken = true;
		return -1;
	}
	mailstream_low_free(plain);
	mailstream_set_low(st, secure);
	forget_caps(s);
	return 0;
}

/* Called for every FETCH reply; see fetch_att and list_att. */
static void on_msg_att(struct mailimap_msg_att *att, void *ctx);
static bool on_body(int type, struct mailimap_msg_att_body_section *sec,
		    const char *bytes, size_t len, void *ctx);

/* libetpan only uses the two handlers when a progress callback is set. */
static void on_progress(size_t cur, size_t max, void *ctx)
{
	(void)cur;
	(void)max;
	(void)ctx;
}

static int new_session(struct source *s, mailstream_low *low,
		       enum util_fail *fail_r, char **err_r)
{
	mailstream *st = mailstream_new(low, IMAP_BUF);

	if (st != NULL)
		s->imap = mailimap_new(0, NULL);
	if (s->imap == NULL) {
		if (st != NULL) {
			mailstream_close(st);
		} else {
			mailstream_low_close(low);
			mailstream_low_free(low);
		}
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			xstrdup("out of memory"));
		return -1;
	}
	if (log_get_level() >= LOG_LEVEL_TRACE)
		mailimap_set_logger(s->imap, imap_trace, (void *)s->acct);
	mailimap_set_progress_callback(s->imap, on_progress, on_progress, s);
	mailimap_set_msg_att_handler(s->imap, on_msg_att, s);
	mailimap_set_msg_body_handler(s->imap, on_body, s);
	/* From here on the session owns the stream, even on failure. */
	return mailimap_connect(s->imap, st);
}

/* Connects and reads the greeting; *preauth_r tells a PREAUTH greeting. */
static int imap_connect(struct source *s, bool *preauth_r,
			enum util_fail *fail_r, char **err_r)
{
	const struct conf_account *a = s->acct;
	mailstream_low *low, *secure;

	if (tls_connect_plain(a->host, a->port, a->timeout, &low, err_r) < 0) {
		*fail_r = UTIL_FAIL_TEMP;
		return -1;
	}
	if (a->tls == CONF_TLS_IMPLICIT) {
		int r = tls_start(low, a, &secure, fail_r, err_r);
		mailstream_low_close(low);
		mailstream_low_free(low);
		if (r < 0)
			return -1;
		low = secure;
	}
	int r = new_session(s, low, fail_r, err_r);
	if (r == MAILIMAP_NO_ERROR_AUTHENTICATED ||
	    r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
		*preauth_r = r == MAILIMAP_NO_ERROR_AUTHENTICATED;
		return 0;
	}
	if (r == -1)
		return -1;
	if (r == MAILIMAP_ERROR_STREAM)
		set_err(fail_r, err_r, UTIL_FAIL_TEMP, stream_error(s));
	else if (r == MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION)
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			xasprintf("server refused the connection: %s",
				  reply_text(s, "BYE")));
	else
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			xstrdup("server sent no valid IMAP greeting"));
	return -1;
}

/* --- login: one entry per mechanism, tried in order --- */

struct imap_mech {
	const char *name;
	bool (*usable)(const struct source *s);
	int (*login)(struct source *s, const char *password,
		     enum util_fail *fail_r, char **err_r);
};

static void login_refused(struct source *s, enum util_fail *fail_r,
			  char **err_r)
{
	set_err(fail_r, err_r, UTIL_FAIL_AUTH,
		xasprintf("login failed: %s",
			  reply_text(s, "server refused the user name or "
					"password")));
}

/* Reads one line; when it is a continuation ("+"), *cont_r is set. */
static int read_line_cont(struct source *s, bool *cont_r)
{
	char *line = mailimap_read_line(s->imap);
	if (line == NULL)
		return MAILIMAP_ERROR_STREAM;
	*cont_r = line[0] == '+';
	return MAILIMAP_NO_ERROR;
}

/* AUTHENTICATE PLAIN (RFC 4959 initial response when SASL-IR is offered,
 * else after the continuation).  The credentials go out as private data,
 * masked in the trace. */
static int auth_plain_exchange(struct source *s, const char *b64, int *state)
{
	bool ir = s->caps & CAP_SASL_IR, cont = true;
	int r = mailimap_send_current_tag(s->imap);

	if (r == MAILIMAP_NO_ERROR)
		r = send_raw(
		    s, ir ? "AUTHENTICATE PLAIN " : "AUTHENTICATE PLAIN\r\n",
		    false);
	if (r == MAILIMAP_NO_ERROR && !ir)
		r = read_line_cont(s, &cont);
	if (r == MAILIMAP_NO_ERROR && cont) {
		char *line = xasprintf("%s\r\n", b64);
		r = send_raw(s, line, true);
		util_free_secret(&line);
		if (r == MAILIMAP_NO_ERROR)
			r = read_line_cont(s, &cont);
		/* Another challenge: PLAIN has none, cancel the exchange. */
		if (r == MAILIMAP_NO_ERROR && cont &&
		    (r = send_raw(s, "*\r\n", false)) == MAILIMAP_NO_ERROR &&
		    mailimap_read_line(s->imap) == NULL)
			r = MAILIMAP_ERROR_STREAM;
	}
	if (r == MAILIMAP_NO_ERROR)
		r = parse_reply(s, state);
	return r;
}

static int auth_plain(struct source *s, const char *password,
		      enum util_fail *fail_r, char **err_r)
{
	char *b64 = source_imap_sasl_plain(s->acct->user, password);
	int state = MAILIMAP_RESP_COND_STATE_NO;
	int r = auth_plain_exchange(s, b64, &state);

	util_free_secret(&b64);
	if (r == MAILIMAP_ERROR_PROTOCOL) {
		s->broken = true;
		login_refused(s, fail_r, err_r);
		return -1;
	}
	if (r != MAILIMAP_NO_ERROR) {
		imap_failed(s, r, "AUTHENTICATE", fail_r, err_r);
		return -1;
	}
	if (state != MAILIMAP_RESP_COND_STATE_OK) {
		login_refused(s, fail_r, err_r);
		return -1;
	}
	s->imap->imap_state = MAILIMAP_STATE_AUTHENTICATED;
	return 0;
}

static int auth_login(struct source *s, const char *password,
		      enum util_fail *fail_r, char **err_r)
{
	int r = mailimap_login(s->imap, s->acct->user, password);

	if (r == MAILIMAP_NO_ERROR)
		return 0;
	if (r == MAILIMAP_ERROR_LOGIN || r == MAILIMAP_ERROR_PROTOCOL) {
		s->broken = r == MAILIMAP_ERROR_PROTOCOL;
		login_refused(s, fail_r, err_r);
		return -1;
	}
	imap_failed(s, r, "LOGIN", fail_r, err_r);
	return -1;
}

static bool plain_usable(const struct source *s)
{
	return s->caps & CAP_AUTH_PLAIN;
}

static bool login_usable(const struct source *s)
{
	return !(s->caps & CAP_LOGINDISABLED);
}

static const struct imap_mech imap_mechs[] = {
    {"AUTHENTICATE PLAIN", plain_usable, auth_plain},
    {"LOGIN", login_usable, auth_login},
};

static int imap_login(struct source *s, const char *password,
		      enum util_fail *fail_r, char **err_r)
{
	for (size_t i = 0; i < sizeof(imap_mechs) / sizeof(*imap_mechs); i++) {
		const struct imap_mech *m = &imap_mechs[i];
		if (!m->usable(s))
			continue;
		log_debug(s->acct->name, "logging in with %s", m->name);
		return m->login(s, password, fail_r, err_r);
	}
	set_err(fail_r, err_r, UTIL_FAIL_AUTH,
		xstrdup("server refuses LOGIN (LOGINDISABLED) and offers no "
			"AUTH=PLAIN; it may want TLS (tls = starttls or "
			"implicit)"));
	return -1;
}

static void source_free(struct source *s)
{
	drop_connection(s);
	for (size_t i = 0; i < s->n_folders; i++) {
		free(s->folders[i].name);
		free(s->folders[i].display);
		free(s->folders[i].refused);
	}
	free(s->folders);
	free(s->listing.msgs);
	free(s->del);
	free(s);
}

static int imap_open(const struct conf_account *acct, const char *password,
		     struct source **src_r, enum util_fail *fail_r,
		     char **err_r)
{
	struct source *s = xcalloc(1, sizeof(*s));
	bool preauth = false;

	s->acct = acct;
	if (imap_connect(s, &preauth, fail_r, err_r) < 0)
		goto fail;
	if (acct->tls == CONF_TLS_STARTTLS && preauth) {
		set_err(fail_r, err_r, UTIL_FAIL_AUTH,
			xstrdup("server sent PREAUTH before STARTTLS (tls = "
				"starttls); refusing a session without TLS"));
		goto fail;
	}
	if (acct->tls == CONF_TLS_STARTTLS &&
	    imap_starttls(s, fail_r, err_r) < 0)
		goto fail;
	if (read_caps(s, fail_r, err_r) < 0)
		goto fail;
	if (!preauth) {
		forget_caps(s);
		if (imap_login(s, password, fail_r, err_r) < 0 ||
		    read_caps(s, fail_r, err_r) < 0)
			goto fail;
	}
	*src_r = s;
	return 0;
fail:
	source_free(s);
	return -1;
}

/* --- folders --- */

static bool selectable(const struct mailimap_mailbox_list *mb)
{
	const struct mailimap_mbx_list_flags *f = mb->mb_flag;

	if (f == NULL)
		return true;
	if (f->mbf_type == MAILIMAP_MBX_LIST_FLAGS_SFLAG &&
	    f->mbf_sflag == MAILIMAP_MBX_LIST_SFLAG_NOSELECT)
		return false;
	for (clistiter *it = f->mbf_oflags != NULL ? clist_begin(f->mbf_oflags)
						   : NULL;
	     it != NULL; it = clist_next(it)) {
		const struct mailimap_mbx_list_oflag *o = clist_content(it);
		if (o->of_type == MAILIMAP_MBX_LIST_OFLAG_FLAG_EXT &&
		    o->of_flag_ext != NULL &&
		    (strcasecmp(o->of_flag_ext, "NonExistent") == 0 ||
		     strcasecmp(o->of_flag_ext, "Noselect") == 0))
			return false;
	}
	return true;
}

/* Encodes a configured UTF-8 folder name or pattern for a command. */
static int encode_name(const char *utf8, char **quoted_r,
		       enum util_fail *fail_r, char **err_r)
{
	char *enc = NULL, *e = NULL;

	if (mutf7_encode(utf8, &enc, &e) < 0 ||
	    source_imap_quote(enc, quoted_r) < 0) {
		set_err(fail_r, err_r, UTIL_FAIL_CONFIG,
			xasprintf("folder \"%s\": %s", utf8,
				  e != NULL ? e : "cannot be sent"));
		free(e);
		free(enc);
		return -1;
	}
	free(enc);
	return 0;
}

/* Adds the selectable folders of one LIST reply; counts what matched. */
static int take_list(struct source *s, clist *l, size_t *matched_r,
		     size_t *usable_r, enum util_fail *fail_r, char **err_r)
{
	for (clistiter *it = clist_begin(l); it != NULL; it = clist_next(it)) {
		const struct mailimap_mailbox_list *mb = clist_content(it);
		(*matched_r)++;
		if (mb->mb_name == NULL || !selectable(mb))
			continue;
		(*usable_r)++;
		if (s->n_folders >= SOURCE_IMAP_MAX_FOLDERS) {
			set_err(fail_r, err_r, UTIL_FAIL_TEMP,
				xasprintf("server lists more than %d folders",
					  SOURCE_IMAP_MAX_FOLDERS));
			return -1;
		}
		if (source_imap_folder_add(&s->folders, &s->n_folders,
					   mb->mb_name, mb->mb_delimiter,
					   err_r) < 0) {
			*fail_r = UTIL_FAIL_TEMP;
			return -1;
		}
	}
	return 0;
}

/* LIST "" ENTRY: one command per configured name or pattern. */
static int list_entry(struct source *s, const char *entry,
		      enum util_fail *fail_r, char **err_r)
{
	char *q = NULL;
	size_t matched = 0, usable = 0;

	if (encode_name(entry, &q, fail_r, err_r) < 0)
		return -1;
	char *cmd = xasprintf("LIST \"\" %s", q);
	int r = run_ok(s, cmd, "LIST", fail_r, err_r);
	free(cmd);
	free(q);
	if (r < 0)
		return -1;
	struct mailimap_response_info *ri = s->imap->imap_response_info;
	clist *l = ri != NULL ? ri->rsp_mailbox_list : NULL;
	if (l != NULL) {
		ri->rsp_mailbox_list = NULL;
		r = take_list(s, l, &matched, &usable, fail_r, err_r);
		mailimap_list_result_free(l);
		if (r < 0)
			return -1;
	}
	if (usable == 0 && !source_imap_has_wildcards(entry)) {
		set_err(fail_r, err_r, UTIL_FAIL_CONFIG,
			xasprintf(matched > 0 ? "folder \"%s\" cannot be "
						"selected on the server "
						"(\\Noselect)"
					      : "folder \"%s\" does not exist "
						"on the server",
				  entry));
		return -1;
	}
	return 0;
}

static int imap_folders(struct source *s, const struct source_folder **f_r,
			size_t *n_r, enum util_fail *fail_r, char **err_r)
{
	if (!s->have_folders) {
		for (size_t i = 0; i < s->acct->n_folders; i++)
			if (list_entry(s, s->acct->folders[i], fail_r, err_r) <
			    0)
				return -1;
		s->have_folders = true;
	}
	*f_r = s->folders;
	*n_r = s->n_folders;
	return 0;
}

/* --- select and list --- */

static void clear_folder_state(struct source *s)
{
	free(s->listing.msgs);
	memset(&s->listing, 0, sizeof(s->listing));
	s->n_del = 0;
}

static int check_selection(struct source *s, const struct source_folder *f,
			   struct source_folder_info *info_r,
			   enum util_fail *fail_r, char **err_r)
{
	const struct mailimap_selection_info *si = s->imap->imap_selection_info;

	if (si == NULL || si->sel_uidvalidity == 0 || !si->sel_has_exists) {
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			xasprintf("server sent no %s for folder \"%s\"",
				  si != NULL && si->sel_uidvalidity == 0
				      ? "UIDVALIDITY"
				      : "EXISTS count",
				  f->display));
		return -1;
	}
	info_r->uidvalidity = si->sel_uidvalidity;
	info_r->uidnext = si->sel_uidnext;
	info_r->exists = si->sel_exists;
	return 0;
}

static int imap_select(struct source *s, const struct source_folder *f,
		       bool write, struct source_folder_info *info_r,
		       enum util_fail *fail_r, char **err_r)
{
	char *q = NULL;

	clear_folder_state(s);
	if (source_imap_quote(f->name, &q) < 0) {
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			xasprintf("folder \"%s\": name cannot be sent",
				  f->display));
		return -1;
	}
	/* libetpan fills the selection info only when one exists. */
	if (s->imap->imap_selection_info != NULL)
		mailimap_selection_info_free(s->imap->imap_selection_info);
	s->imap->imap_selection_info = mailimap_selection_info_new();
	char *cmd = xasprintf("%s %s", write ? "SELECT" : "EXAMINE", q);
	int r = run_cmd(s, cmd, write ? "SELECT" : "EXAMINE", fail_r, err_r);
	free(cmd);
	free(q);
	if (r > 0)
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			xasprintf("cannot select folder \"%s\": %s", f->display,
				  reply_text(s, "NO")));
	if (r != 0) {
		s->imap->imap_state = MAILIMAP_STATE_AUTHENTICATED;
		return -1;
	}
	s->imap->imap_state = MAILIMAP_STATE_SELECTED;
	return check_selection(s, f, info_r, fail_r, err_r);
}

struct att_info {
	uint32_t uid;
	bool has_size, has_date;
	uint64_t size;
	time_t date;
	unsigned flags;
	size_t bodies;	    /* BODY[...] items */
	bool nil;	    /* the (last) body was NIL */
	const char *quoted; /* a body sent as a quoted string */
	size_t quoted_len;
};

static unsigned flag_bits(const clist *flags)
{
	unsigned bits = 0;

	for (clistiter *it = clist_begin((clist *)flags); it != NULL;
	     it = clist_next(it)) {
		const struct mailimap_flag_fetch *ff = clist_content(it);
		if (ff->fl_type != MAILIMAP_FLAG_FETCH_OTHER ||
		    ff->fl_flag == NULL)
			continue;
		switch (ff->fl_flag->fl_type) {
		case MAILIMAP_FLAG_DRAFT:
			bits |= SOURCE_IMAP_FLAG_DRAFT;
			break;
		case MAILIMAP_FLAG_FLAGGED:
			bits |= SOURCE_IMAP_FLAG_FLAGGED;
			break;
		case MAILIMAP_FLAG_ANSWERED:
			bits |= SOURCE_IMAP_FLAG_ANSWERED;
			break;
		case MAILIMAP_FLAG_SEEN:
			bits |= SOURCE_IMAP_FLAG_SEEN;
			break;
		case MAILIMAP_FLAG_DELETED:
			bits |= SOURCE_IMAP_FLAG_DELETED;
			break;
		}
	}
	return bits;
}

static void scan_static(const struct mailimap_msg_att_static *st,
			struct att_info *a)
{
	const struct mailimap_date_time *d;
	const struct mailimap_msg_att_body_section *b;

	switch (st->att_type) {
	case MAILIMAP_MSG_ATT_UID:
		a->uid = st->att_data.att_uid;
		break;
	case MAILIMAP_MSG_ATT_RFC822_SIZE:
		a->has_size = true;
		a->size = st->att_data.att_rfc822_size;
		break;
	case MAILIMAP_MSG_ATT_INTERNALDATE:
		d = st->att_data.att_internal_date;
		a->has_date =
		    d != NULL &&
		    source_imap_date(d->dt_day, d->dt_month, d->dt_year,
				     d->dt_hour, d->dt_min, d->dt_sec,
				     d->dt_zone, &a->date) == 0;
		break;
	case MAILIMAP_MSG_ATT_BODY_SECTION:
		b = st->att_data.att_body_section;
		a->bodies++;
		a->nil = b == NULL || b->sec_body_part == NULL;
		/* Streamed literals leave an empty string here. */
		a->quoted = a->nil ? NULL : b->sec_body_part;
		a->quoted_len = a->nil ? 0 : b->sec_length;
		break;
	}
}

static void scan_att(const struct mailimap_msg_att *att, struct att_info *a)
{
	memset(a, 0, sizeof(*a));
	for (clistiter *it = clist_begin(att->att_list); it != NULL;
	     it = clist_next(it)) {
		const struct mailimap_msg_att_item *item = clist_content(it);
		if (item->att_type == MAILIMAP_MSG_ATT_ITEM_DYNAMIC &&
		    item->att_data.att_dyn != NULL &&
		    item->att_data.att_dyn->att_list != NULL)
			a->flags |= flag_bits(item->att_data.att_dyn->att_list);
		else if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC &&
			 item->att_data.att_static != NULL)
			scan_static(item->att_data.att_static, a);
	}
}

static void list_att(struct list_run *lr, const struct mailimap_msg_att *att)
{
	struct att_info a;

	scan_att(att, &a);
	/* Without size and date it is a flag change another client made,
	 * not a reply to our FETCH. */
	if (lr->err != NULL || (!a.has_size && !a.has_date))
		return;
	if (a.uid == 0 || !a.has_size) {
		lr->err = xstrdup(a.uid == 0 ? "server sent a FETCH reply "
					       "without UID"
					     : "server sent a FETCH reply "
					       "without RFC822.SIZE");
		return;
	}
	if (lr->n >= IMAP_MAX_MSGS) {
		lr->err = xasprintf("server lists more than %u messages",
				    IMAP_MAX_MSGS);
		return;
	}
	if (lr->n == lr->cap) {
		lr->cap = lr->cap ? lr->cap * 2 : 256;
		lr->msgs = xrealloc(lr->msgs, lr->cap * sizeof(*lr->msgs));
	}
	struct source_msg *m = &lr->msgs[lr->n++];
	memset(m, 0, sizeof(*m));
	m->index = a.uid;
	m->size = a.size;
	snprintf(m->uid, sizeof(m->uid), "%" PRIu32, a.uid);
	m->date = a.has_date ? a.date : 0;
	source_imap_flag_letters(a.flags, m->flags);
	m->deleted = a.flags & SOURCE_IMAP_FLAG_DELETED;
}

static int imap_list(struct source *s, uint64_t from_uid,
		     const struct source_listing **listing_r,
		     enum util_fail *fail_r, char **err_r)
{
	struct list_run lr = {0};
	uint64_t from = from_uid > 0 ? from_uid : 1;

	clear_folder_state(s);
	s->listing.has_uids = true;
	*listing_r = &s->listing;
	if (s->imap->imap_selection_info == NULL) {
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			xstrdup("no folder selected"));
		return -1;
	}
	/* Nothing to ask for: an empty folder costs no FETCH at all. */
	if (s->imap->imap_selection_info->sel_exists == 0 || from > UINT32_MAX)
		return 0;
	char *cmd = xasprintf("UID FETCH %" PRIu64
			      ":* (UID RFC822.SIZE INTERNALDATE FLAGS)",
			      from);
	s->list = &lr;
	int r = run_ok(s, cmd, "UID FETCH", fail_r, err_r);
	s->list = NULL;
	free(cmd);
	s->listing.msgs = lr.msgs;
	s->listing.n = lr.n;
	if (r == 0 && lr.err != NULL) {
		set_err(fail_r, err_r, UTIL_FAIL_TEMP, lr.err);
		lr.err = NULL;
		r = -1;
	}
	free(lr.err);
	if (r == 0 &&
	    source_imap_listing_finish(&s->listing, from, err_r) < 0) {
		*fail_r = UTIL_FAIL_TEMP;
		r = -1;
	}
	if (r < 0)
		clear_folder_state(s);
	return r;
}

/* --- fetch --- */

/* Starts the reply for UID (0: not known yet): that message, skipping
 * the ones before it (no reply: expunged meanwhile), else the predicted
 * one.  A reply for a message not (or no longer) expected is ignored. */
static int reply_begin(struct source *s, struct fetch_run *fr, uint32_t uid)
{
	if (uid != 0) {
		size_t p = source_imap_find_uid(s->listing.msgs, fr->idx,
						fr->next, fr->end, uid);
		if (p == fr->end) {
			fr->ignore = true;
			return 0;
		}
		fr->next = p;
	}
	if (fr->next >= fr->end) {
		fr->ignore = true; /* more than we asked for */
		return 0;
	}
	fr->cur = fr->next;
	int rc = fr->cb->begin(fr->ctx, fr->idx[fr->cur]);
	if (rc != 0) {
		fr->fail = rc;
		return -1;
	}
	fr->in_msg = true;
	source_imap_crlf_init(&fr->crlf);
	return 0;
}

/* Hands body bytes on, decoded; nothing past the announced size. */
static int reply_feed(struct source *s, struct fetch_run *fr, const char *bytes,
		      size_t len)
{
	size_t i = fr->idx[fr->cur];

	fr->reply.raw_bytes += len;
	if (fr->reply.raw_bytes > s->listing.msgs[i].size)
		return 0; /* will be dropped */
	while (len > 0) {
		size_t take = len < IMAP_BUF ? len : IMAP_BUF;
		size_t o = source_imap_crlf_run(&fr->crlf, bytes, take, s->out);
		int rc = o > 0 ? fr->cb->data(fr->ctx, i, s->out, o) : 0;
		if (rc != 0) {
			fr->fail = rc;
			return -1;
		}
		bytes += take;
		len -= take;
	}
	return 0;
}

/* Ends the current message with end or drop, and moves the prediction
 * past the message the reply was for. */
static void reply_end(struct source *s, struct fetch_run *fr)
{
	size_t i = fr->idx[fr->cur];
	const struct source_msg *m = &s->listing.msgs[i];
	const char *why = fr->headers
				  ? source_imap_header_verdict(m, &fr->reply)
				  : source_imap_verdict(m, &fr->reply);
	int rc;

	if (why == NULL) {
		size_t o = source_imap_crlf_finish(&fr->crlf, s->out);
		rc = o > 0 ? fr->cb->data(fr->ctx, i, s->out, o) : 0;
		if (rc == 0)
			rc = fr->cb->end(fr->ctx, i);
	} else {
		log_debug(s->acct->name, "UID %" PRIu32 ": %s", m->index, why);
		rc = fr->cb->drop(fr->ctx, i, why);
	}
	fr->in_msg = false;
	size_t p =
	    fr->reply.uid == m->index
		? fr->cur
		: source_imap_find_uid(s->listing.msgs, fr->idx, fr->cur + 1,
				       fr->end, fr->reply.uid);
	fr->next = (p < fr->end ? p : fr->cur) + 1;
	if (rc != 0)
		fr->fail = rc;
}

/* BODY[] itself: libetpan gives it no section at all ("[]"). */
static bool whole_body(int type, const struct mailimap_msg_att_body_section *b)
{
	return type == MAILIMAP_MSG_ATT_BODY_SECTION && b != NULL &&
	       (b->sec_section == NULL || b->sec_section->sec_spec == NULL) &&
	       b->sec_origin_octet == 0;
}

/* BODY[HEADER]: the header section of the message itself. */
static bool header_section(int type,
			   const struct mailimap_msg_att_body_section *b)
{
	const struct mailimap_section_spec *sp;

	if (type != MAILIMAP_MSG_ATT_BODY_SECTION || b == NULL ||
	    b->sec_section == NULL || b->sec_origin_octet != 0)
		return false;
	sp = b->sec_section->sec_spec;
	return sp != NULL &&
	       sp->sec_type == MAILIMAP_SECTION_SPEC_SECTION_MSGTEXT &&
	       sp->sec_data.sec_msgtext != NULL &&
	       sp->sec_data.sec_msgtext->sec_type ==
		   MAILIMAP_SECTION_MSGTEXT_HEADER &&
	       sp->sec_text == NULL;
}

/* The UID of the reply whose body starts streaming, when the server sent
 * it before the body (libetpan's parse buffer holds the reply so far). */
static uint32_t peek_uid(const struct source *s)
{
	const MMAPString *b = s->imap->imap_stream_buffer;
	return b != NULL ? source_imap_peek_uid(b->str, b->len) : 0;
}

/* Body chunks (at most 64 KB), without saying whose: the reply's UID, if
 * it came first, or else the prediction says; the FETCH handler checks
 * when the reply ends.  Returning false kills the connection, which is
 * what a local failure wants. */
static bool on_body(int type, struct mailimap_msg_att_body_section *sec,
		    const char *bytes, size_t len, void *ctx)
{
	struct source *s = ctx;
	struct fetch_run *fr = s->fetch;

	if (fr == NULL || fr->ignore)
		return true; /* not asked for: discarded */
	if (fr->fail != 0)
		return false;
	if (!(fr->headers ? header_section(type, sec)
			  : whole_body(type, sec))) {
		fr->reply.stray = true;
		return true;
	}
	if (!fr->in_msg && reply_begin(s, fr, peek_uid(s)) < 0)
		return false;
	if (!fr->in_msg)
		return true;
	return reply_feed(s, fr, bytes, len) == 0;
}

static void fetch_att(struct source *s, struct fetch_run *fr,
		      const struct mailimap_msg_att *att)
{
	struct att_info a;

	scan_att(att, &a);
	/* No body bytes came: a {0} literal, NIL, a quoted string, or no
	 * body at all (a flag change: not a reply). */
	if (fr->fail == 0 && !fr->ignore && !fr->in_msg && a.bodies > 0 &&
	    reply_begin(s, fr, a.uid) == 0 && fr->in_msg && a.quoted_len > 0)
		reply_feed(s, fr, a.quoted, a.quoted_len);
	if (fr->fail == 0 && fr->in_msg) {
		fr->reply.uid = a.uid;
		fr->reply.nil = a.nil;
		fr->reply.stray |= a.bodies > 1;
		reply_end(s, fr);
	}
	memset(&fr->reply, 0, sizeof(fr->reply));
	fr->ignore = false;
}

static void on_msg_att(struct mailimap_msg_att *att, void *ctx)
{
	struct source *s = ctx;

	if (s->fetch != NULL)
		fetch_att(s, s->fetch, att);
	else if (s->list != NULL)
		list_att(s->list, att);
}

static int fetch_batch(struct source *s, struct fetch_run *fr, const char *set,
		       enum util_fail *fail_r, char **err_r)
{
	char *cmd = fr->headers
			? xasprintf("UID FETCH %s (UID BODY.PEEK[HEADER])", set)
			: xasprintf("UID FETCH %s (UID RFC822.SIZE INTERNALDATE "
				    "FLAGS BODY.PEEK[])",
				    set);
	int r = run_cmd(s, cmd, "UID FETCH", fail_r, err_r);

	free(cmd);
	if (r == 0 && fr->fail == 0 && fr->in_msg) {
		fr->reply.stray = true; /* cannot happen: libetpan ends each
					 * FETCH reply with the handler */
		reply_end(s, fr);
	}
	/* A callback's failure decides, whatever the server said. */
	if (fr->fail != 0) {
		if (r < 0)
			free(*err_r);
		s->broken = true;
		set_err(fail_r, err_r, (enum util_fail)fr->fail,
			xstrdup("delivery failed"));
		return -1;
	}
	if (r > 0)
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			xasprintf("UID FETCH refused by server: %s",
				  reply_text(s, "NO")));
	return r == 0 ? 0 : -1;
}

/* Runs the UID FETCH of bodies or HEADERS in batches. */
static int fetch_batches(struct source *s, const size_t *idx, size_t n,
			 bool headers, const struct source_fetch_cb *cb,
			 void *ctx, enum util_fail *fail_r, char **err_r)
{
	struct fetch_run fr = {
	    .idx = idx, .cb = cb, .ctx = ctx, .headers = headers};
	char set[SOURCE_IMAP_SET_MAX + 1];
	int r = 0;

	s->fetch = &fr;
	for (size_t start = 0; start < n && r == 0; start = fr.end) {
		fr.end = source_imap_batch(s->listing.msgs, idx, n, start, set,
					   sizeof(set));
		fr.next = start;
		r = fetch_batch(s, &fr, set, fail_r, err_r);
	}
	s->fetch = NULL;
	return r;
}

static int imap_fetch(struct source *s, const size_t *idx, size_t n,
		      const struct source_fetch_cb *cb, void *ctx,
		      enum util_fail *fail_r, char **err_r)
{
	return fetch_batches(s, idx, n, false, cb, ctx, fail_r, err_r);
}

/* Batches sized by the listed message sizes: a header section is never
 * bigger, so a batch of headers is never bigger than one of bodies. */
static int imap_fetch_headers(struct source *s, const size_t *idx, size_t n,
			      const struct source_fetch_cb *cb, void *ctx,
			      enum util_fail *fail_r, char **err_r)
{
	return fetch_batches(s, idx, n, true, cb, ctx, fail_r, err_r);
}

/* --- deletion --- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int store_deleted(struct source *s, const uint32_t *uids, size_t n,
			 enum util_fail *fail_r, char **err_r)
{
	return run_uid_cmds(s, uids, n, "UID STORE",
			    " +FLAGS.SILENT (\\Deleted)", fail_r, err_r);
}

static int imap_mark_deleted(struct source *s, const size_t *idx, size_t n,
			     enum util_fail *fail_r, char **err_r)
{
	size_t first = s->n_del, n_store = 0;

	if (s->cap_del - s->n_del < n) {
		s->cap_del = s->n_del + n;
		s->del = xrealloc(s->del, s->cap_del * sizeof(*s->del));
	}
	/* Those flagged already go first: only the rest need a STORE. */
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			const struct source_msg *m = &s->listing.msgs[idx[i]];
			if (m->deleted == (pass == 0))
				s->del[s->n_del++] = m->index;
		}
	n_store = s->n_del - first;
	for (size_t i = 0; i < n; i++)
		if (s->listing.msgs[idx[i]].deleted)
			n_store--;
	uint32_t *store = s->del + s->n_del - n_store;
	qsort(store, n_store, sizeof(*s->del), cmp_u32);
	if (s->acct->move_to != NULL)
		return 0; /* MOVE or COPY at expunge */
	return store_deleted(s, store, n_store, fail_r, err_r);
}

/* Removes the flagged messages: ours only with UIDPLUS, else all the
 * folder's flagged ones when the user allowed it, else nothing. */
static int expunge_flagged(struct source *s, bool *done_r, char **note_r,
			   enum util_fail *fail_r, char **err_r)
{
	if (s->caps & (CAP_UIDPLUS | CAP_IMAP4REV2)) {
		if (run_uid_cmds(s, s->del, s->n_del, "UID EXPUNGE", "", fail_r,
				 err_r) < 0)
			return -1;
		*done_r = true;
		return 0;
	}
	if (s->acct->expunge_without_uidplus) {
		if (run_ok(s, "EXPUNGE", "EXPUNGE", fail_r, err_r) < 0)
			return -1;
		*done_r = true;
		return 0;
	}
	*note_r = xasprintf("server lacks UIDPLUS: %zu messages flagged "
			    "\\Deleted but not expunged; set "
			    "expunge_without_uidplus = yes to expunge them "
			    "(that also removes messages other clients "
			    "flagged)",
			    s->n_del);
	return 0;
}

/* A missing target folder is the configuration's fault. */
static void move_failed(struct source *s, enum util_fail *fail_r)
{
	const struct mailimap_response_info *ri = s->imap->imap_response_info;
	if (!s->broken && ri != NULL && ri->rsp_trycreate)
		*fail_r = UTIL_FAIL_CONFIG;
}

static int expunge_move(struct source *s, bool *done_r, char **note_r,
			enum util_fail *fail_r, char **err_r)
{
	char *q = NULL;

	if (encode_name(s->acct->move_to, &q, fail_r, err_r) < 0)
		return -1;
	char *suffix = xasprintf(" %s", q);
	bool move = s->caps & (CAP_MOVE | CAP_IMAP4REV2);
	int r =
	    run_uid_cmds(s, s->del, s->n_del, move ? "UID MOVE" : "UID COPY",
			 suffix, fail_r, err_r);
	free(suffix);
	free(q);
	if (r < 0) {
		move_failed(s, fail_r);
		return -1;
	}
	if (move) {
		*done_r = true;
		return 0;
	}
	if (store_deleted(s, s->del, s->n_del, fail_r, err_r) < 0)
		return -1;
	return expunge_flagged(s, done_r, note_r, fail_r, err_r);
}

static int imap_expunge(struct source *s, bool *done_r, char **note_r,
			enum util_fail *fail_r, char **err_r)
{
	size_t n = 0;
	int r = 0;

	*done_r = false;
	*note_r = NULL;
	if (s->n_del > 1)
		qsort(s->del, s->n_del, sizeof(*s->del), cmp_u32);
	for (size_t i = 0; i < s->n_del; i++)
		if (n == 0 || s->del[n - 1] != s->del[i])
			s->del[n++] = s->del[i];
	s->n_del = n;
	if (n == 0)
		*done_r = true;
	else if (s->acct->move_to != NULL)
		r = expunge_move(s, done_r, note_r, fail_r, err_r);
	else
		r = expunge_flagged(s, done_r, note_r, fail_r, err_r);
	s->n_del = 0;
	return r;
}

/* --- close --- */

/* LOGOUT by hand: libetpan's parser takes the BYE every server sends
 * first for a broken stream.  Returns 0 once the tagged OK came. */
static int logout(struct source *s)
{
	char tag[16];

	if (mailimap_send_current_tag(s->imap) != MAILIMAP_NO_ERROR ||
	    send_raw(s, "LOGOUT\r\n", false) != MAILIMAP_NO_ERROR)
		return -1;
	int n = snprintf(tag, sizeof(tag), "%d ", s->imap->imap_tag);
	for (int i = 0; i < IMAP_LOGOUT_LINES; i++) {
		const char *line = mailimap_read_line(s->imap);
		if (line == NULL)
			return -1;
		if (strncmp(line, tag, (size_t)n) == 0)
			return strncasecmp(line + n, "OK", 2) == 0 ? 0 : -1;
	}
	return -1;
}

static int imap_close(struct source **src, bool commit, char **err_r)
{
	struct source *s = *src;
	int ret = 0;

	*src = NULL;
	if (s == NULL)
		return 0;
	/* Deletions were applied by expunge; LOGOUT only says goodbye. */
	if (!s->broken && s->imap != NULL && s->imap->imap_stream != NULL &&
	    logout(s) < 0 && commit) {
		*err_r = xstrdup("LOGOUT not confirmed by the server");
		ret = -1;
	}
	source_free(s);
	return ret;
}

const struct source_ops source_imap_ops = {
    .name = "imap",
    .open = imap_open,
    .folders = imap_folders,
    .select = imap_select,
    .list = imap_list,
    .fetch = imap_fetch,
    .fetch_headers = imap_fetch_headers,
    .mark_deleted = imap_mark_deleted,
    .expunge = imap_expunge,
    .close = imap_close,
};
