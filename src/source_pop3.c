/* SPDX-License-Identifier: ISC */
/* POP3 over libetpan: libetpan reads the greeting and does CAPA, STLS and
 * the login; the listing, RETR, TOP, DELE and QUIT are ours, because
 * libetpan's LIST parser crashes on hostile input, its RETR holds the
 * whole message in memory, and it has no pipelining. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libetpan/libetpan.h>

#include "crash.h"
#include "log.h"
#include "source_pop3.h"
#include "tls.h"

#define POP3_BUF 65536
#define POP3_LINE_MAX 1024
/* Commands in flight with PIPELINING: enough replies owed that the link
 * never idles (the bytes of a round trip at a gigabit and more), few
 * enough that our commands always fit the socket buffers, so that
 * neither side can block the other.  The window refills when half of it
 * has been answered, so commands go out in groups, not one per reply. */
#define POP3_WINDOW_MSGS 512
#define POP3_WINDOW_BYTES (16u << 20)

struct source {
	const struct conf_account *acct;
	mailpop3 *pop3;
	mailstream *stream;        /* owned by pop3 once connected */
	bool pipelining;
	bool stls;
	bool dele_sent;            /* QUIT will commit deletions */
	struct source_listing listing;
	char in[POP3_BUF];         /* our reader, used after login */
	size_t in_pos, in_len;
	char line[POP3_LINE_MAX + 1];
	char out[POP3_BUF + 1];    /* decoded RETR bytes */
};

/* --- listing parser (pure) --- */

static bool parse_u64(const char **p, const char *end, uint64_t max,
		      uint64_t *v_r)
{
	uint64_t v = 0;
	const char *s = *p;

	if (s == end || *s < '0' || *s > '9')
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*v_r = v;
	return true;
}

static bool parse_index(const char **p, const char *end, uint32_t *idx_r)
{
	uint64_t v;
	if (!parse_u64(p, end, SOURCE_POP3_MAX_MSGS, &v) || v == 0)
		return false;
	*idx_r = (uint32_t)v;
	return true;
}

int source_pop3_parse_uidl(const char *line, size_t len, uint32_t *idx_r,
			   char uid_r[SOURCE_UID_MAX + 1], char **err_r)
{
	const char *p = line, *end = line + len;

	if (!parse_index(&p, end, idx_r) || p == end || *p != ' ') {
		*err_r = xstrdup("bad message number in UIDL listing");
		return -1;
	}
	while (p < end && *p == ' ')
		p++;
	size_t n = (size_t)(end - p);
	if (n == 0 || n > SOURCE_UID_MAX) {
		*err_r = xasprintf("UIDL of %zu characters (1-%d allowed)", n,
				   SOURCE_UID_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x21 || c > 0x7e) {
			*err_r = xasprintf("UIDL with byte 0x%02x (only "
					   "0x21-0x7E allowed)", c);
			return -1;
		}
	}
	memcpy(uid_r, p, n);
	uid_r[n] = '\0';
	return 0;
}

int source_pop3_parse_list(const char *line, size_t len, uint32_t *idx_r,
			   uint64_t *size_r, char **err_r)
{
	const char *p = line, *end = line + len;

	if (!parse_index(&p, end, idx_r) || p == end || *p != ' ') {
		*err_r = xstrdup("bad message number in LIST listing");
		return -1;
	}
	while (p < end && *p == ' ')
		p++;
	/* Sizes beyond 1 TB are not mail; refusing them keeps sums safe. */
	if (!parse_u64(&p, end, (uint64_t)1 << 40, size_r)) {
		*err_r = xstrdup("bad message size in LIST listing");
		return -1;
	}
	while (p < end && *p == ' ')
		p++;
	if (p != end) {
		*err_r = xstrdup("trailing text in LIST listing");
		return -1;
	}
	return 0;
}

static int cmp_uid(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	return strcmp(*x, *y);
}

/* A repeated UIDL would make two messages one: refuse the listing. */
static int check_unique_uids(const struct source_listing *l, char **err_r)
{
	const char **uids = xcalloc(l->n, sizeof(*uids));
	int ret = 0;

	for (size_t i = 0; i < l->n; i++)
		uids[i] = l->msgs[i].uid;
	qsort(uids, l->n, sizeof(*uids), cmp_uid);
	for (size_t i = 1; i < l->n && ret == 0; i++)
		if (strcmp(uids[i - 1], uids[i]) == 0) {
			*err_r = xasprintf("server listed UIDL %s twice",
					   uids[i]);
			ret = -1;
		}
	free(uids);
	return ret;
}

int source_pop3_merge(const uint32_t *list_idx, const uint64_t *list_size,
		      size_t n_list, const uint32_t *uidl_idx,
		      char (*uidl_uid)[SOURCE_UID_MAX + 1], size_t n_uidl,
		      bool has_uidl, struct source_listing *listing,
		      char **err_r)
{
	struct source_msg *msgs = xcalloc(n_list, sizeof(*msgs));
	size_t u = 0;

	for (size_t i = 0; i < n_list; i++) {
		if (i > 0 && list_idx[i] <= list_idx[i - 1]) {
			*err_r = xasprintf("LIST listing out of order at "
					   "message %u", list_idx[i]);
			goto fail;
		}
		msgs[i].index = list_idx[i];
		msgs[i].size = list_size[i];
		if (!has_uidl)
			continue;
		if (u >= n_uidl || uidl_idx[u] != list_idx[i]) {
			*err_r = xasprintf("UIDL and LIST listings disagree "
					   "at message %u", list_idx[i]);
			goto fail;
		}
		memcpy(msgs[i].uid, uidl_uid[u], sizeof(msgs[i].uid));
		u++;
	}
	if (has_uidl && u != n_uidl) {
		*err_r = xstrdup("UIDL listing has messages LIST does not");
		goto fail;
	}
	listing->msgs = msgs;
	listing->n = n_list;
	listing->has_uids = has_uidl;
	if (has_uidl && check_unique_uids(listing, err_r) < 0) {
		listing->msgs = NULL;
		listing->n = 0;
		goto fail;
	}
	return 0;
fail:
	free(msgs);
	return -1;
}

/* --- RETR decoder (pure) --- */

enum {
	DEC_LINE_START = 0,
	DEC_MID,
	DEC_CR,      /* a CR held back: CRLF becomes LF */
	DEC_DOT,     /* a dot at line start */
	DEC_DOT_CR,  /* ".\r" at line start */
	DEC_DONE,
};

void source_pop3_dec_init(struct source_pop3_dec *d)
{
	d->state = DEC_LINE_START;
	d->wire_bytes = 0;
}

/* Handles one byte in the middle of a line; returns the new state. */
static int dec_mid(char c, char *out, size_t *o)
{
	if (c == '\r')
		return DEC_CR;
	out[(*o)++] = c;
	return c == '\n' ? DEC_LINE_START : DEC_MID;
}

/* Copies the run of line bytes at IN[0..N) into OUT up to the first CR
 * (consumed, held back) or through the first LF, whichever comes first,
 * with memchr and memcpy rather than byte by byte: most of a message is
 * such runs.  Sets *st for what follows; returns the bytes consumed. */
static size_t dec_copy_run(const char *in, size_t n, char *out, size_t *o,
			   int *st)
{
	const char *cr = memchr(in, '\r', n);
	size_t span = cr != NULL ? (size_t)(cr - in) : n;
	const char *lf = memchr(in, '\n', span);

	if (lf != NULL) {
		span = (size_t)(lf - in) + 1;
		*st = DEC_LINE_START;
	} else if (cr != NULL) {
		*st = DEC_CR;
	}
	memcpy(out + *o, in, span);
	*o += span;
	return lf == NULL && cr != NULL ? span + 1 : span;
}

bool source_pop3_dec_run(struct source_pop3_dec *d, const char *in,
			 size_t *in_len, char *out, size_t *out_len)
{
	size_t i = 0, o = 0, n = *in_len;
	int st = d->state;

	while (i < n && st != DEC_DONE) {
		if (st == DEC_MID) {
			i += dec_copy_run(in + i, n - i, out, &o, &st);
			continue;
		}
		char c = in[i++];
		switch (st) {
		case DEC_LINE_START:
			st = c == '.' ? DEC_DOT : dec_mid(c, out, &o);
			break;
		case DEC_CR:
			if (c == '\n') {
				out[o++] = '\n';
				st = DEC_LINE_START;
			} else {
				out[o++] = '\r';
				st = dec_mid(c, out, &o);
			}
			break;
		case DEC_DOT:
			if (c == '\r')
				st = DEC_DOT_CR;
			else if (c == '\n')
				st = DEC_DONE;
			else
				st = dec_mid(c, out, &o);
			break;
		case DEC_DOT_CR:
			if (c == '\n') {
				st = DEC_DONE;
			} else {
				out[o++] = '\r';
				st = dec_mid(c, out, &o);
			}
			break;
		}
	}
	d->state = st;
	d->wire_bytes += i;
	*in_len = i;
	*out_len = o;
	return st == DEC_DONE;
}

/* --- the connection --- */

static void set_err(enum util_fail *fail_r, char **err_r, enum util_fail f,
		    char *msg)
{
	*fail_r = f;
	*err_r = msg;
}

/* Says why the stream failed: our driver's error, or a generic one. */
static char *stream_error(struct source *s)
{
	char *e = tls_take_error(mailstream_get_low(s->stream));
	if (e == NULL)
		return xstrdup("connection lost");
	char *msg = xasprintf("connection: %s", e);
	free(e);
	return msg;
}

static int in_fill(struct source *s, enum util_fail *fail_r, char **err_r)
{
	if (s->in_pos < s->in_len)
		return 0;
	ssize_t n = mailstream_read(s->stream, s->in, sizeof(s->in));
	if (n <= 0) {
		set_err(fail_r, err_r, UTIL_FAIL_TEMP, stream_error(s));
		return -1;
	}
	s->in_pos = 0;
	s->in_len = (size_t)n;
	return 0;
}

/* Reads one line into s->line without its line end.  Lines longer than
 * POP3_LINE_MAX are an error: no reply of the commands we send needs it. */
static int read_line(struct source *s, size_t *len_r, enum util_fail *fail_r,
		     char **err_r)
{
	size_t len = 0;

	for (;;) {
		if (in_fill(s, fail_r, err_r) < 0)
			return -1;
		char *start = s->in + s->in_pos;
		size_t avail = s->in_len - s->in_pos;
		char *nl = memchr(start, '\n', avail);
		size_t take = nl != NULL ? (size_t)(nl - start) + 1 : avail;
		if (len + take > POP3_LINE_MAX + 1) {
			set_err(fail_r, err_r, UTIL_FAIL_TEMP,
				xasprintf("server sent a line longer than %d "
					  "bytes", POP3_LINE_MAX));
			return -1;
		}
		memcpy(s->line + len, start, take);
		len += take;
		s->in_pos += take;
		if (nl != NULL)
			break;
	}
	len--; /* the LF */
	if (len > 0 && s->line[len - 1] == '\r')
		len--;
	s->line[len] = '\0';
	*len_r = len;
	return 0;
}

/* Reads a status line: 0 for +OK, 1 for -ERR (text in s->line), -1 on
 * a broken connection or reply. */
static int read_status(struct source *s, enum util_fail *fail_r,
		       char **err_r)
{
	size_t len;

	if (read_line(s, &len, fail_r, err_r) < 0)
		return -1;
	if (strncmp(s->line, "+OK", 3) == 0)
		return 0;
	if (strncmp(s->line, "-ERR", 4) == 0)
		return 1;
	set_err(fail_r, err_r, UTIL_FAIL_TEMP,
		xasprintf("unexpected reply from server: %.80s", s->line));
	return -1;
}

static int send_cmd(struct source *s, const char *cmd, bool flush,
		    enum util_fail *fail_r, char **err_r)
{
	if (mailstream_write(s->stream, cmd, strlen(cmd)) < 0 ||
	    (flush && mailstream_flush(s->stream) < 0)) {
		set_err(fail_r, err_r, UTIL_FAIL_TEMP, stream_error(s));
		return -1;
	}
	return 0;
}

static int flush_cmds(struct source *s, enum util_fail *fail_r, char **err_r)
{
	if (mailstream_flush(s->stream) < 0) {
		set_err(fail_r, err_r, UTIL_FAIL_TEMP, stream_error(s));
		return -1;
	}
	return 0;
}

/* Closes the network side without QUIT: mailpop3_free would send one,
 * and a QUIT commits any DELE sent in this session. */
static void drop_connection(struct source *s)
{
	if (s->pop3 != NULL) {
		if (s->pop3->pop3_stream != NULL)
			s->stream = s->pop3->pop3_stream;
		s->pop3->pop3_stream = NULL;
		mailpop3_free(s->pop3);
		s->pop3 = NULL;
	}
	if (s->stream != NULL)
		mailstream_close(s->stream);
	s->stream = NULL;
}

/* The -vv protocol trace: one line per chunk, passwords masked, long
 * data cut short. */
static void pop3_trace(mailpop3 *p, int type, const char *str, size_t size,
		       void *ctx)
{
	const struct conf_account *a = ctx;

	(void)p;
	if (type == MAILSTREAM_LOG_TYPE_DATA_SENT_PRIVATE ||
	    type == MAILSTREAM_LOG_TYPE_DATA_SENT)
		log_trace_wire(a->name, '>',
			       type == MAILSTREAM_LOG_TYPE_DATA_SENT_PRIVATE, str,
			       size);
	else if (type == MAILSTREAM_LOG_TYPE_DATA_RECEIVED)
		log_trace_wire(a->name, '<', false, str, size);
}

/* Reads CAPA into the flags we act on; a server without CAPA has none. */
static void read_capabilities(struct source *s)
{
	clist *caps = NULL;

	s->pipelining = false;
	s->stls = false;
	if (mailpop3_capa(s->pop3, &caps) != MAILPOP3_NO_ERROR)
		return;
	for (clistiter *it = clist_begin(caps); it != NULL;
	     it = clist_next(it)) {
		struct mailpop3_capa *c = clist_content(it);
		if (strcasecmp(c->cap_name, "PIPELINING") == 0)
			s->pipelining = true;
		else if (strcasecmp(c->cap_name, "STLS") == 0)
			s->stls = true;
	}
	mailpop3_capa_resp_free(caps);
}

/* STLS is mandatory once configured: a missing capability, a refusal or
 * bytes sent ahead of the handshake end the session before any credential
 * is sent. */
static int pop3_stls(struct source *s, enum util_fail *fail_r, char **err_r)
{
	mailstream_low *plain, *secure;

	read_capabilities(s);
	if (!s->stls) {
		set_err(fail_r, err_r, UTIL_FAIL_AUTH,
			xstrdup("server does not offer STLS (tls = starttls); "
				"not logging in without TLS"));
		return -1;
	}
	int r = mailpop3_stls(s->pop3);
	/* libetpan refuses a go-ahead with bytes behind it, but reports it
	 * like a refusal: say what really happened. */
	if (s->stream->read_buffer_len != 0) {
		set_err(fail_r, err_r, UTIL_FAIL_AUTH,
			xstrdup("server sent data before the TLS handshake "
				"(possible injection attack); not logging in"));
		return -1;
	}
	if (r != MAILPOP3_NO_ERROR) {
		set_err(fail_r, err_r, UTIL_FAIL_AUTH,
			xasprintf("server refused STLS: %s",
				  s->pop3->pop3_response != NULL
					  ? s->pop3->pop3_response
					  : "no reply"));
		return -1;
	}
	plain = mailstream_get_low(s->stream);
	if (tls_start(plain, s->acct, &secure, fail_r, err_r) < 0)
		return -1;
	mailstream_low_free(plain);
	mailstream_set_low(s->stream, secure);
	return 0;
}

static int pop3_login(struct source *s, const char *password,
		      enum util_fail *fail_r, char **err_r)
{
	int r = mailpop3_user(s->pop3, s->acct->user);
	if (r == MAILPOP3_NO_ERROR)
		r = mailpop3_pass(s->pop3, password);
	/* libetpan marks the stream private for PASS and leaves it so: the
	 * trace would mask every later command. */
	mailstream_set_privacy(s->stream, 1);
	if (r == MAILPOP3_NO_ERROR)
		return 0;
	if (r == MAILPOP3_ERROR_STREAM) {
		set_err(fail_r, err_r, UTIL_FAIL_TEMP, stream_error(s));
		return -1;
	}
	set_err(fail_r, err_r, UTIL_FAIL_AUTH,
		xasprintf("login failed: %s",
			  s->pop3->pop3_response != NULL &&
					  *s->pop3->pop3_response != '\0'
				  ? s->pop3->pop3_response
				  : "server refused the user name or password"));
	return -1;
}

static int pop3_connect(struct source *s, enum util_fail *fail_r,
			char **err_r)
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
	s->stream = mailstream_new(low, POP3_BUF);
	if (s->stream == NULL) {
		mailstream_low_close(low);
		mailstream_low_free(low);
		set_err(fail_r, err_r, UTIL_FAIL_TEMP, xstrdup("out of memory"));
		return -1;
	}
	s->pop3 = mailpop3_new(0, NULL);
	if (s->pop3 == NULL) {
		set_err(fail_r, err_r, UTIL_FAIL_TEMP, xstrdup("out of memory"));
		return -1;
	}
	if (log_get_level() >= LOG_LEVEL_TRACE)
		mailpop3_set_logger(s->pop3, pop3_trace, (void *)a);
	if (mailpop3_connect(s->pop3, s->stream) != MAILPOP3_NO_ERROR) {
		char *e = tls_take_error(mailstream_get_low(s->stream));
		set_err(fail_r, err_r, UTIL_FAIL_TEMP,
			e != NULL ? xasprintf("connection: %s", e)
				  : xasprintf("server refused the connection: "
					      "%s",
					      s->pop3->pop3_response != NULL
						      ? s->pop3->pop3_response
						      : "no greeting"));
		free(e);
		return -1;
	}
	return 0;
}

static int pop3_open(const struct conf_account *acct, const char *password,
		     struct source **src_r, enum util_fail *fail_r,
		     char **err_r)
{
	struct source *s = xcalloc(1, sizeof(*s));

	s->acct = acct;
	if (pop3_connect(s, fail_r, err_r) < 0)
		goto fail;
	if (acct->tls == CONF_TLS_STARTTLS && pop3_stls(s, fail_r, err_r) < 0)
		goto fail;
	read_capabilities(s);
	if (pop3_login(s, password, fail_r, err_r) < 0)
		goto fail;
	*src_r = s;
	return 0;
fail:
	drop_connection(s);
	free(s);
	return -1;
}

static void source_free(struct source *s)
{
	drop_connection(s);
	free(s->listing.msgs);
	free(s);
}

/* --- listing --- */

struct listing_lines {
	uint32_t *idx;
	uint64_t *size;                    /* LIST */
	char (*uid)[SOURCE_UID_MAX + 1];   /* UIDL */
	size_t n, cap;
};

static void lines_free(struct listing_lines *l)
{
	free(l->idx);
	free(l->size);
	free(l->uid);
}

static void lines_grow(struct listing_lines *l, bool uidl)
{
	if (l->n < l->cap)
		return;
	l->cap = l->cap ? l->cap * 2 : 256;
	l->idx = xrealloc(l->idx, l->cap * sizeof(*l->idx));
	if (uidl)
		l->uid = xrealloc(l->uid, l->cap * sizeof(*l->uid));
	else
		l->size = xrealloc(l->size, l->cap * sizeof(*l->size));
}

/* Reads the lines of a multi-line listing up to ".". */
static int read_listing(struct source *s, bool uidl, struct listing_lines *l,
			enum util_fail *fail_r, char **err_r)
{
	size_t len;

	for (;;) {
		if (read_line(s, &len, fail_r, err_r) < 0)
			return -1;
		if (len == 1 && s->line[0] == '.')
			return 0;
		if (l->n >= SOURCE_POP3_MAX_MSGS) {
			set_err(fail_r, err_r, UTIL_FAIL_TEMP,
				xasprintf("server lists more than %u messages",
					  SOURCE_POP3_MAX_MSGS));
			return -1;
		}
		lines_grow(l, uidl);
		char *e = NULL;
		int r = uidl ? source_pop3_parse_uidl(s->line, len,
						      &l->idx[l->n],
						      l->uid[l->n], &e)
			     : source_pop3_parse_list(s->line, len,
						      &l->idx[l->n],
						      &l->size[l->n], &e);
		if (r < 0) {
			set_err(fail_r, err_r, UTIL_FAIL_TEMP,
				xasprintf("bad listing from server: %s", e));
			free(e);
			return -1;
		}
		l->n++;
	}
}

/* POP3 has one mailbox: one folder without a name. */
static const struct source_folder pop3_folder = {
	.name = (char *)"",
	.display = (char *)"",
	.sep = '\0',
};

static int pop3_folders(struct source *s, const struct source_folder **f_r,
			size_t *n_r, enum util_fail *fail_r, char **err_r)
{
	(void)s;
	(void)fail_r;
	(void)err_r;
	*f_r = &pop3_folder;
	*n_r = 1;
	return 0;
}

static int pop3_select(struct source *s, const struct source_folder *f,
		       bool write, struct source_folder_info *info_r,
		       enum util_fail *fail_r, char **err_r)
{
	(void)s;
	(void)f;
	(void)write;
	(void)fail_r;
	(void)err_r;
	memset(info_r, 0, sizeof(*info_r));
	return 0;
}

static int pop3_list(struct source *s, uint64_t from_uid,
		     const struct source_listing **listing_r,
		     enum util_fail *fail_r, char **err_r)
{
	struct listing_lines uidl = {0}, list = {0};
	int ret = -1, st;

	(void)from_uid; /* POP3 has no UIDs to start from */
	/* UIDL then LIST, in one round trip where the server allows it. */
	if (send_cmd(s, "UIDL\r\n", !s->pipelining, fail_r, err_r) < 0)
		goto out;
	if (s->pipelining && send_cmd(s, "LIST\r\n", true, fail_r, err_r) < 0)
		goto out;
	if ((st = read_status(s, fail_r, err_r)) < 0)
		goto out;
	bool has_uidl = st == 0;
	if (has_uidl && read_listing(s, true, &uidl, fail_r, err_r) < 0)
		goto out;
	if (!s->pipelining && send_cmd(s, "LIST\r\n", true, fail_r, err_r) < 0)
		goto out;
	if ((st = read_status(s, fail_r, err_r)) != 0) {
		if (st > 0)
			set_err(fail_r, err_r, UTIL_FAIL_TEMP,
				xasprintf("LIST refused: %s", s->line));
		goto out;
	}
	if (read_listing(s, false, &list, fail_r, err_r) < 0)
		goto out;
	free(s->listing.msgs);
	memset(&s->listing, 0, sizeof(s->listing));
	if (source_pop3_merge(list.idx, list.size, list.n, uidl.idx, uidl.uid,
			      uidl.n, has_uidl, &s->listing, err_r) < 0) {
		*fail_r = UTIL_FAIL_TEMP;
		goto out;
	}
	*listing_r = &s->listing;
	ret = 0;
out:
	lines_free(&uidl);
	lines_free(&list);
	return ret;
}

/* --- RETR, DELE, QUIT --- */

/* Streams one RETR reply through the decoder into CB. */
static int retr_body(struct source *s, size_t i,
		     const struct source_fetch_cb *cb, void *ctx,
		     enum util_fail *fail_r, char **err_r)
{
	struct source_pop3_dec dec;
	bool done = false;
	int rc;

	source_pop3_dec_init(&dec);
	if ((rc = cb->begin(ctx, i)) != 0)
		goto cb_failed;
	while (!done) {
		if (in_fill(s, fail_r, err_r) < 0)
			return -1;
		size_t in_len = s->in_len - s->in_pos, out_len;
		done = source_pop3_dec_run(&dec, s->in + s->in_pos, &in_len,
					   s->out, &out_len);
		s->in_pos += in_len;
		if (out_len > 0 && (rc = cb->data(ctx, i, s->out, out_len)) != 0)
			goto cb_failed;
	}
	if ((rc = cb->end(ctx, i)) != 0)
		goto cb_failed;
	return 0;
cb_failed:
	*fail_r = (enum util_fail)rc;
	return -1;
}

/* What pipeline does with each reply: HANDLE for +OK; REFUSED, when
 * given, for -ERR (one message refused: the others go on), else -ERR
 * ends the pipeline. */
struct pipe_ops {
	int (*handle)(struct source *s, size_t i, void *arg,
		      enum util_fail *fail_r, char **err_r);
	int (*refused)(struct source *s, size_t i, void *arg,
		       enum util_fail *fail_r, char **err_r);
};

/* Sends commands for IDX[*sent..N) while the window has room: replies
 * owed (to DONE) and the bytes they bring (LIST sizes, when BY_SIZE).
 * One write for the group. */
static int pipeline_refill(struct source *s, const char *verb,
			   const char *args, const size_t *idx, size_t n,
			   size_t done, size_t *sent, uint64_t *owed,
			   bool by_size, enum util_fail *fail_r, char **err_r)
{
	size_t win = s->pipelining ? POP3_WINDOW_MSGS : 1;
	uint64_t win_bytes = by_size ? POP3_WINDOW_BYTES : UINT64_MAX;
	bool wrote = false;
	char cmd[40];

	if (*sent > done &&
	    (*sent - done > win / 2 || *owed > win_bytes / 2))
		return 0;
	while (*sent < n && *sent - done < win &&
	       (*owed < win_bytes || *sent == done)) {
		const struct source_msg *m = &s->listing.msgs[idx[*sent]];
		snprintf(cmd, sizeof(cmd), "%s %u%s\r\n", verb, m->index, args);
		if (send_cmd(s, cmd, false, fail_r, err_r) < 0)
			return -1;
		*owed += by_size ? m->size : 0;
		(*sent)++;
		wrote = true;
	}
	return wrote ? flush_cmds(s, fail_r, err_r) : 0;
}

/* Sends "VERB n ARGS" for the listed messages IDX, keeping a window of
 * them in flight with PIPELINING (one at a time without), and reads the
 * replies in order, handing each to OPS.  BY_SIZE: the replies carry the
 * messages (RETR), and their LIST sizes bound the window too. */
static int pipeline(struct source *s, const char *verb, const char *args,
		    bool by_size, const size_t *idx, size_t n,
		    const struct pipe_ops *ops, void *arg,
		    enum util_fail *fail_r, char **err_r)
{
	size_t sent = 0;
	uint64_t owed = 0;

	for (size_t done = 0; done < n; done++) {
		if (pipeline_refill(s, verb, args, idx, n, done, &sent, &owed,
				    by_size, fail_r, err_r) < 0)
			return -1;
		if (by_size)
			owed -= s->listing.msgs[idx[done]].size;
		int st = read_status(s, fail_r, err_r);
		if (st > 0 && ops->refused != NULL) {
			if (ops->refused(s, idx[done], arg, fail_r, err_r) < 0)
				return -1;
			continue;
		}
		if (st > 0)
			set_err(fail_r, err_r, UTIL_FAIL_TEMP,
				xasprintf("%s %u refused: %s", verb,
					  s->listing.msgs[idx[done]].index,
					  s->line));
		if (st != 0)
			return -1;
		if (ops->handle != NULL &&
		    ops->handle(s, idx[done], arg, fail_r, err_r) < 0)
			return -1;
	}
	return 0;
}

struct fetch_args {
	const struct source_fetch_cb *cb;
	void *ctx;
};

static int fetch_one(struct source *s, size_t i, void *arg,
		     enum util_fail *fail_r, char **err_r)
{
	struct fetch_args *fa = arg;
	return retr_body(s, i, fa->cb, fa->ctx, fail_r, err_r);
}

static int pop3_fetch(struct source *s, const size_t *idx, size_t n,
		      const struct source_fetch_cb *cb, void *ctx,
		      enum util_fail *fail_r, char **err_r)
{
	static const struct pipe_ops ops = {.handle = fetch_one};
	struct fetch_args fa = {.cb = cb, .ctx = ctx};
	*err_r = NULL;
	int r = pipeline(s, "RETR", "", true, idx, n, &ops, &fa, fail_r, err_r);
	if (r < 0 && *err_r == NULL)
		*err_r = xstrdup("delivery failed");
	return r;
}

/* A TOP the server refuses (the message is gone, or TOP is not
 * implemented) costs only that message its headers. */
static int top_refused(struct source *s, size_t i, void *arg,
		       enum util_fail *fail_r, char **err_r)
{
	struct fetch_args *fa = arg;
	char *why = xasprintf("TOP refused: %s", s->line);
	int rc = fa->cb->drop(fa->ctx, i, why);

	(void)err_r; /* the callback's class says it all */
	free(why);
	if (rc != 0) {
		*fail_r = (enum util_fail)rc;
		return -1;
	}
	return 0;
}

/* TOP n 0 sends the header section and the empty line after it, framed
 * and dot-stuffed as RETR is: the same decoder gives the bytes RETR's
 * decoding starts with. */
static int pop3_fetch_headers(struct source *s, const size_t *idx, size_t n,
			      const struct source_fetch_cb *cb, void *ctx,
			      enum util_fail *fail_r, char **err_r)
{
	static const struct pipe_ops ops = {.handle = fetch_one,
					    .refused = top_refused};
	struct fetch_args fa = {.cb = cb, .ctx = ctx};
	*err_r = NULL;
	int r = pipeline(s, "TOP", " 0", false, idx, n, &ops, &fa, fail_r, err_r);
	if (r < 0 && *err_r == NULL)
		*err_r = xstrdup("reading the headers failed");
	return r;
}

static int pop3_mark_deleted(struct source *s, const size_t *idx, size_t n,
			     enum util_fail *fail_r, char **err_r)
{
	static const struct pipe_ops ops = {0};
	s->dele_sent = s->dele_sent || n > 0;
	int r = pipeline(s, "DELE", "", false, idx, n, &ops, NULL, fail_r, err_r);
	crash_point("dele-sent");
	return r;
}

/* DELE only marks: the server removes at QUIT. */
static int pop3_expunge(struct source *s, bool *done_r, char **note_r,
			enum util_fail *fail_r, char **err_r)
{
	(void)s;
	(void)fail_r;
	(void)err_r;
	*done_r = false;
	*note_r = NULL;
	return 0;
}

static int pop3_close(struct source **src, bool commit, char **err_r)
{
	struct source *s = *src;
	enum util_fail fail;
	int ret = 0;

	*src = NULL;
	if (s == NULL)
		return 0;
	if (commit) {
		ret = send_cmd(s, "QUIT\r\n", true, &fail, err_r);
		crash_point("quit-sent");
		/* Without a DELE, QUIT commits nothing: its reply is not
		 * worth a round trip. */
		if (ret == 0 && s->dele_sent) {
			int st = read_status(s, &fail, err_r);
			if (st > 0)
				*err_r = xasprintf("QUIT refused: %s", s->line);
			ret = st == 0 ? 0 : -1;
		}
	}
	source_free(s);
	return ret;
}

const struct source_ops source_pop3_ops = {
	.name = "pop3",
	.open = pop3_open,
	.folders = pop3_folders,
	.select = pop3_select,
	.list = pop3_list,
	.fetch = pop3_fetch,
	.fetch_headers = pop3_fetch_headers,
	.mark_deleted = pop3_mark_deleted,
	.expunge = pop3_expunge,
	.close = pop3_close,
};
