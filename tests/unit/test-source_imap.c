/* SPDX-License-Identifier: ISC */
/* The IMAP source's pure parts: UID sets (and their splitting), Maildir
 * flag letters, INTERNALDATE arithmetic (against timegm for every day of
 * three centuries), the CRLF decoder in every chunking, quoting, SASL
 * PLAIN, the listing check, fetch batches, verdicts, the UID peek and
 * folder names. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "source_imap.h"
#include "tap.h"

#define N_OF(a) (sizeof(a) / sizeof(*(a)))

/* --- UID sets --- */

struct set_case {
	uint32_t uids[12];
	size_t n;
	size_t cap;
	size_t used;
	const char *set;
};

static const struct set_case set_cases[] = {
    {{0}, 0, 64, 0, ""},
    {{1}, 1, 64, 1, "1"},
    {{1, 2, 3, 4, 5, 7, 9, 10, 11, 12}, 10, 64, 10, "1:5,7,9:12"},
    {{2, 4, 6}, 3, 64, 3, "2,4,6"},
    {{10, 11}, 2, 64, 2, "10:11"},
    {{4294967294u, 4294967295u}, 2, 64, 2, "4294967294:4294967295"},
    {{4294967295u}, 1, 64, 1, "4294967295"},
    {{3, 3}, 2, 64, 2, "3,3"},	    /* never merged into a range */
    {{1, 3, 5, 7}, 4, 4, 2, "1,3"}, /* "1,3" + NUL fills 4 */
    {{1, 3, 5, 7}, 4, 3, 1, "1"},
    {{1, 3, 5, 7}, 4, 2, 1, "1"},
    {{1, 3, 5, 7}, 4, 1, 0, ""},    /* not even one range */
    {{1, 2, 3, 9}, 4, 5, 3, "1:3"}, /* a range is never cut */
    {{1, 2, 3, 9}, 4, 3, 0, ""},
};

static void test_uid_set_cases(void)
{
	for (size_t i = 0; i < N_OF(set_cases); i++) {
		const struct set_case *c = &set_cases[i];
		char buf[64], what[96];
		memset(buf, 'x', sizeof(buf));
		size_t used = source_imap_uid_set(c->uids, c->n, buf, c->cap);
		snprintf(what, sizeof(what), "UID set %zu: \"%s\", %zu used", i,
			 c->set, c->used);
		tap_ok(used == c->used &&
			   (c->cap == 0 || strcmp(buf, c->set) == 0),
		       what);
	}
	tap_ok(source_imap_uid_set(set_cases[1].uids, 1, NULL, 0) == 0,
	       "UID set: no room at all");
}

/* Parses a set back into UIDs, appending to OUT. */
static size_t expand_set(const char *set, uint32_t *out, size_t n)
{
	const char *p = set;
	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;
		if (*end == ':')
			b = strtoul(end + 1, &end, 10);
		for (unsigned long u = a; u <= b; u++)
			out[n++] = (uint32_t)u;
		p = *end == ',' ? end + 1 : end;
	}
	return n;
}

/* A long, gappy UID list becomes several short sets that cover every UID
 * once, in order. */
static void test_uid_set_split(void)
{
	enum { N = 20000 };
	uint32_t *uids = malloc(N * sizeof(*uids)), *back;
	back = malloc(N * sizeof(*back));
	char buf[SOURCE_IMAP_SET_MAX + 1];
	size_t done = 0, got = 0, sets = 0, longest = 0;
	uint32_t u = 1;

	for (size_t i = 0; i < N; i++) {
		uids[i] = u;
		u += i % 7 == 3 ? 1 : 2 + (uint32_t)(i % 3) * 1000;
	}
	while (done < N) {
		size_t k = source_imap_uid_set(uids + done, N - done, buf,
					       sizeof(buf));
		if (k == 0)
			break;
		got = expand_set(buf, back, got);
		longest = strlen(buf) > longest ? strlen(buf) : longest;
		done += k;
		sets++;
	}
	tap_ok(done == N && got == N && memcmp(uids, back, N * 4) == 0,
	       "UID set split: every UID once, in order");
	tap_ok(longest <= SOURCE_IMAP_SET_MAX && sets > 1,
	       "UID set split: several sets, none longer than the cap");
	free(uids);
	free(back);
}

/* --- flags --- */

static void test_flags(void)
{
	static const struct {
		unsigned bits;
		const char *letters;
	} cases[] = {
	    {0, ""},
	    {SOURCE_IMAP_FLAG_SEEN, "S"},
	    {SOURCE_IMAP_FLAG_SEEN | SOURCE_IMAP_FLAG_FLAGGED, "FS"},
	    {SOURCE_IMAP_FLAG_ANSWERED | SOURCE_IMAP_FLAG_DRAFT, "DR"},
	    {SOURCE_IMAP_FLAG_DELETED, ""},
	    {SOURCE_IMAP_FLAG_DELETED | SOURCE_IMAP_FLAG_SEEN, "S"},
	    {SOURCE_IMAP_FLAG_DRAFT | SOURCE_IMAP_FLAG_FLAGGED |
		 SOURCE_IMAP_FLAG_ANSWERED | SOURCE_IMAP_FLAG_SEEN |
		 SOURCE_IMAP_FLAG_DELETED,
	     "DFRS"},
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		char out[8], what[64];
		memset(out, 'x', sizeof(out));
		source_imap_flag_letters(cases[i].bits, out);
		snprintf(what, sizeof(what), "flags %#x -> \"%s\"",
			 cases[i].bits, cases[i].letters);
		tap_str(out, cases[i].letters, what);
	}
}

/* --- INTERNALDATE --- */

struct date_case {
	int d, mo, y, h, mi, s, zone;
	int ok;
	int64_t t;
};

static const struct date_case date_cases[] = {
    {1, 1, 1970, 0, 0, 0, 0, 1, 0},
    {2, 1, 2023, 3, 4, 5, 0, 1, 1672628645},
    {2, 1, 2023, 5, 4, 5, 200, 1, 1672628645},	 /* +0200 */
    {1, 1, 2023, 19, 4, 5, -800, 1, 1672628645}, /* -0800, day before */
    {2, 1, 2023, 8, 34, 5, 530, 1, 1672628645},	 /* +0530 */
    {31, 12, 1969, 23, 59, 59, 0, 1, -1},
    {29, 2, 2024, 12, 0, 0, 0, 1, 1709208000},
    {1, 3, 2000, 0, 0, 0, 0, 1, 951868800},
    {1, 1, 1900, 0, 0, 0, 0, 1, -2208988800},
    {31, 12, 9999, 23, 59, 59, 0, 1, 253402300799},
    {31, 12, 2016, 23, 59, 60, 0, 1, 1483228800}, /* leap second */
    {29, 2, 2023, 0, 0, 0, 0, 0, 0},
    {29, 2, 1900, 0, 0, 0, 0, 0, 0},
    {31, 4, 2023, 0, 0, 0, 0, 0, 0},
    {0, 1, 2023, 0, 0, 0, 0, 0, 0},
    {1, 0, 2023, 0, 0, 0, 0, 0, 0},
    {1, 13, 2023, 0, 0, 0, 0, 0, 0},
    {1, 1, 999, 0, 0, 0, 0, 0, 0},
    {1, 1, 10000, 0, 0, 0, 0, 0, 0},
    {1, 1, 2023, 24, 0, 0, 0, 0, 0},
    {1, 1, 2023, 0, 60, 0, 0, 0, 0},
    {1, 1, 2023, 0, 0, 61, 0, 0, 0},
    {1, 1, 2023, -1, 0, 0, 0, 0, 0},
    {1, 1, 2023, 0, 0, 0, 2400, 0, 0},
    {1, 1, 2023, 0, 0, 0, 160, 0, 0}, /* +0160 */
    {1, 1, 2023, 0, 0, 0, -2360, 0, 0},
    {1, 1, 2023, 0, 0, 0, 2359, 1, 1672531200 - 86340},
};

static void test_date_cases(void)
{
	for (size_t i = 0; i < N_OF(date_cases); i++) {
		const struct date_case *c = &date_cases[i];
		time_t t = 12345;
		char what[96];
		int r = source_imap_date(c->d, c->mo, c->y, c->h, c->mi, c->s,
					 c->zone, &t);
		snprintf(what, sizeof(what),
			 "date %02d-%02d-%04d %02d:%02d:%02d %+05d %s", c->d,
			 c->mo, c->y, c->h, c->mi, c->s, c->zone,
			 c->ok ? "converted" : "refused");
		tap_ok(c->ok ? r == 0 && (int64_t)t == c->t
			     : r < 0 && t == 12345,
		       what);
	}
}

/* Every day from 1900 to 2199, at a time that moves, against timegm. */
static void test_date_timegm(void)
{
	size_t bad = 0, days = 0;
	struct tm tm = {.tm_year = 0, .tm_mon = 0, .tm_mday = 1};
	time_t t0 = timegm(&tm);

	for (time_t day = t0; day < t0 + (time_t)300 * 366 * 86400;
	     day += 86400) {
		struct tm d;
		gmtime_r(&day, &d);
		if (d.tm_year + 1900 > 2199)
			break;
		int h = (int)(days % 24), mi = (int)(days * 7 % 60),
		    s = (int)(days * 13 % 60);
		time_t got;
		if (source_imap_date(d.tm_mday, d.tm_mon + 1, d.tm_year + 1900,
				     h, mi, s, 0, &got) < 0 ||
		    got != day + h * 3600 + mi * 60 + s)
			bad++;
		days++;
	}
	char what[80];
	snprintf(what, sizeof(what),
		 "date: %zu days of 1900-2199 agree with timegm", days);
	tap_ok(bad == 0 && days > 109000, what);
}

/* --- CRLF decoder --- */

struct crlf_case {
	const char *in;
	size_t in_len;
	const char *out;
	size_t out_len;
};

#define S(x) x, sizeof(x) - 1
static const struct crlf_case crlf_cases[] = {
    {S(""), S("")},
    {S("a\r\nb"), S("a\nb")},
    {S("a\r\nb\r\n"), S("a\nb\n")},
    {S("a\rb"), S("a\rb")},
    {S("a\r"), S("a\r")},
    {S("\r"), S("\r")},
    {S("\r\r\n"), S("\r\n")},
    {S("\r\n\r\n"), S("\n\n")},
    {S("\n"), S("\n")},
    {S("\n\r"), S("\n\r")},
    {S("x\r\r"), S("x\r\r")},
    {S("a\0\r\nb\0"), S("a\0\nb\0")},
    {S("\r\r\r\n\n"), S("\r\r\n\n")},
    {S("From x\r\n\r\n.\r\nend"), S("From x\n\n.\nend")},
};

/* Decodes IN cut at CUT1 and CUT2 (three chunks). */
static size_t crlf_chunks(const char *in, size_t len, size_t cut1, size_t cut2,
			  char *out)
{
	struct source_imap_crlf c;
	size_t o = 0;

	source_imap_crlf_init(&c);
	o += source_imap_crlf_run(&c, in, cut1, out + o);
	o += source_imap_crlf_run(&c, in + cut1, cut2 - cut1, out + o);
	o += source_imap_crlf_run(&c, in + cut2, len - cut2, out + o);
	o += source_imap_crlf_finish(&c, out + o);
	return o;
}

static void test_crlf(void)
{
	for (size_t i = 0; i < N_OF(crlf_cases); i++) {
		const struct crlf_case *c = &crlf_cases[i];
		size_t bad = 0;
		char out[64], what[64];
		for (size_t a = 0; a <= c->in_len; a++)
			for (size_t b = a; b <= c->in_len; b++) {
				size_t o =
				    crlf_chunks(c->in, c->in_len, a, b, out);
				if (o != c->out_len ||
				    memcmp(out, c->out, o) != 0)
					bad++;
			}
		snprintf(what, sizeof(what),
			 "CRLF decoder case %zu in every 3-chunking", i);
		tap_ok(bad == 0, what);
	}
	/* Byte by byte, the output never exceeds input + 1. */
	struct source_imap_crlf c;
	char out[2];
	size_t worst = 0;
	source_imap_crlf_init(&c);
	for (const char *p = "\r\r\n\r\rx\r"; *p; p++) {
		size_t o = source_imap_crlf_run(&c, p, 1, out);
		worst = o > worst ? o : worst;
	}
	tap_ok(worst <= 2 && source_imap_crlf_finish(&c, out) == 1 &&
		   out[0] == '\r' && source_imap_crlf_finish(&c, out) == 0,
	       "CRLF decoder: a trailing CR is given once, at the end");
}

/* --- quoting, patterns, SASL --- */

static void test_quote(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"INBOX", "\"INBOX\""},
	    {"", "\"\""},
	    {"Lists/dev", "\"Lists/dev\""},
	    {"a\"b", "\"a\\\"b\""},
	    {"a\\b", "\"a\\\\b\""},
	    {"Entw&APw-rfe", "\"Entw&APw-rfe\""},
	    {"with space", "\"with space\""},
	    {"a\rb", NULL},
	    {"a\nb", NULL},
	    {"caf\xc3\xa9", NULL},
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		char *q = NULL, what[64];
		int r = source_imap_quote(cases[i].in, &q);
		snprintf(what, sizeof(what), "quote case %zu %s", i,
			 cases[i].out ? "quoted" : "refused");
		if (cases[i].out != NULL)
			tap_ok(r == 0 && q != NULL &&
				   strcmp(q, cases[i].out) == 0,
			       what);
		else
			tap_ok(r < 0 && q == NULL, what);
		free(q);
	}
	tap_ok(source_imap_has_wildcards("*") &&
		   source_imap_has_wildcards("Lists/%") &&
		   !source_imap_has_wildcards("INBOX") &&
		   !source_imap_has_wildcards(""),
	       "LIST wildcards: * and % only");
}

static void test_sasl(void)
{
	static const struct {
		const char *user, *pass, *b64;
	} cases[] = {
	    {"alice", "secret", "AGFsaWNlAHNlY3JldA=="},
	    {"a", "", "AGEA"},
	    {"ab", "", "AGFiAA=="},
	    {"us\xc3\xa9r", "p\xc3\xa4ss w\"rd", "AHVzw6lyAHDDpHNzIHcicmQ="},
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		char *b = source_imap_sasl_plain(cases[i].user, cases[i].pass);
		char what[64];
		snprintf(what, sizeof(what), "SASL PLAIN for \"%s\"",
			 cases[i].user);
		tap_str(b, cases[i].b64, what);
		util_free_secret(&b);
	}
}

/* --- listing, batches, verdicts --- */

static void set_msgs(struct source_listing *l, const uint32_t *uids, size_t n)
{
	l->msgs = calloc(n ? n : 1, sizeof(*l->msgs));
	l->n = n;
	for (size_t i = 0; i < n; i++) {
		l->msgs[i].index = uids[i];
		l->msgs[i].size = 100 + uids[i];
		snprintf(l->msgs[i].uid, sizeof(l->msgs[i].uid), "%" PRIu32,
			 uids[i]);
	}
}

static int listing_is(const struct source_listing *l, const uint32_t *uids,
		      size_t n)
{
	if (l->n != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (l->msgs[i].index != uids[i] ||
		    l->msgs[i].size != 100 + uids[i])
			return 0;
	return 1;
}

static void test_listing(void)
{
	static const struct {
		uint32_t in[6];
		size_t n;
		uint64_t from;
		int ok;
		uint32_t out[6];
		size_t n_out;
		const char *what;
	} cases[] = {
	    {{5, 3, 9, 1}, 4, 0, 1, {1, 3, 5, 9}, 4, "sorted by UID"},
	    {{5, 3, 9, 1}, 4, 4, 1, {5, 9}, 2, "UIDs below FROM dropped"},
	    {{7}, 1, 10, 1, {0}, 0, "n:* answered with a lower UID"},
	    {{0}, 0, 1, 1, {0}, 0, "empty listing"},
	    {{3, 8, 3}, 3, 0, 0, {0}, 0, "a UID twice refused"},
	    {{3, 3}, 2, 5, 1, {0}, 0, "a twice-listed UID below FROM"},
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		struct source_listing l = {0};
		char *err = NULL, what[80];
		set_msgs(&l, cases[i].in, cases[i].n);
		int r = source_imap_listing_finish(&l, cases[i].from, &err);
		snprintf(what, sizeof(what), "listing: %s", cases[i].what);
		tap_ok(
		    cases[i].ok
			? r == 0 && listing_is(&l, cases[i].out, cases[i].n_out)
			: r < 0 && err != NULL && strstr(err, "twice") != NULL,
		    what);
		free(err);
		free(l.msgs);
	}
}

static void test_batches(void)
{
	enum { B = SOURCE_IMAP_BATCH_MSGS, N = B + 344 };
	struct source_msg *m = calloc(N, sizeof(*m));
	size_t *idx = calloc(N, sizeof(*idx)), n_idx = 0;
	char set[SOURCE_IMAP_SET_MAX + 1], want[64];

	/* UIDs 1..B+45 in a row, then every other one. */
	for (size_t i = 0; i < N; i++) {
		m[i].index = (uint32_t)(i + 1);
		m[i].size = 1000;
		if (i % 2 == 0 || i < B + 44)
			idx[n_idx++] = i;
	}
	size_t end = source_imap_batch(m, idx, n_idx, 0, set, sizeof(set));
	snprintf(want, sizeof(want), "1:%d", B);
	tap_ok(end == B && strcmp(set, want) == 0,
	       "batch: at most SOURCE_IMAP_BATCH_MSGS messages, as one range");
	end = source_imap_batch(m, idx, n_idx, B, set, sizeof(set));
	snprintf(want, sizeof(want), "%d:%d,%d,%d,", B + 1, B + 45, B + 47,
		 B + 49);
	tap_ok(end == B + 44 + 150 && strncmp(set, want, strlen(want)) == 0,
	       "batch: consecutive UIDs as a range, the others one by one");
	end = source_imap_batch(m, idx, n_idx, B, set, 40);
	tap_ok(end == B + 45 + 6 && strlen(set) == 39,
	       "batch: cut where the set would be too long");

	for (size_t i = 0; i < N; i++)
		m[i].size = 200u << 20;
	end = source_imap_batch(m, idx, n_idx, 0, set, sizeof(set));
	tap_ok(end == 1 && strcmp(set, "1") == 0,
	       "batch: 200 MB messages go one by one (256 MB cap)");
	m[5].size = 300u << 20;
	end = source_imap_batch(m, idx, n_idx, 5, set, sizeof(set));
	tap_ok(end == 6 && strcmp(set, "6") == 0,
	       "batch: a message over the byte cap goes alone");
	for (size_t i = 0; i < N; i++)
		m[i].size = 1u << 20;
	end = source_imap_batch(m, idx, n_idx, 0, set, sizeof(set));
	tap_ok(end == 256, "batch: 256 messages of 1 MB");
	end = source_imap_batch(m, idx, n_idx, n_idx - 1, set, sizeof(set));
	tap_ok(end == n_idx, "batch: the last message alone");
	tap_ok(source_imap_find_uid(m, idx, 0, n_idx, B + 45) == B + 44 &&
		   source_imap_find_uid(m, idx, 0, n_idx, B + 46) == n_idx &&
		   source_imap_find_uid(m, idx, 10, 20, 5) == 20,
	       "find_uid: found, absent, outside the range");
	free(idx);
	free(m);
}

static void test_verdicts(void)
{
	static const struct source_msg m = {.index = 7, .size = 100};
	static const struct source_msg empty = {.index = 8, .size = 0};
	static const struct {
		const struct source_msg *m;
		struct source_imap_reply r;
		const char *why; /* a word of the reason; NULL: ok */
	} cases[] = {
	    {&m, {7, 100, false, false}, NULL},
	    {&m, {0, 100, false, false}, "without UID"},
	    {&m, {9, 100, false, false}, "another message"},
	    {&m, {7, 100, false, true}, "not asked"},
	    {&m, {7, 0, true, false}, "NIL"},
	    {&m, {7, 99, false, false}, "shorter"},
	    {&m, {7, 101, false, false}, "longer"},
	    {&m, {7, 0, false, false}, "shorter"},
	    {&empty, {8, 0, false, false}, NULL},
	    {&empty, {8, 0, true, false}, NULL},
	    {&empty, {8, 2, false, false}, "longer"},
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		const char *why = source_imap_verdict(cases[i].m, &cases[i].r);
		char what[80];
		snprintf(what, sizeof(what), "verdict %zu: %s", i,
			 cases[i].why ? cases[i].why : "complete");
		tap_ok(cases[i].why == NULL
			   ? why == NULL
			   : why != NULL && strstr(why, cases[i].why),
		       what);
	}
}

/* A header section is any size up to the message's. */
static void test_header_verdicts(void)
{
	static const struct source_msg m = {.index = 7, .size = 100};
	static const struct source_msg empty = {.index = 8, .size = 0};
	static const struct {
		const struct source_msg *m;
		struct source_imap_reply r;
		const char *why; /* a word of the reason; NULL: ok */
	} cases[] = {
	    {&m, {7, 40, false, false}, NULL},
	    {&m, {7, 100, false, false}, NULL},
	    {&m, {7, 2, false, false}, NULL},
	    {&m, {7, 0, false, false}, NULL},
	    {&m, {0, 40, false, false}, "without UID"},
	    {&m, {9, 40, false, false}, "another message"},
	    {&m, {7, 40, false, true}, "not asked"},
	    {&m, {7, 0, true, false}, "NIL"},
	    {&m, {7, 101, false, false}, "longer"},
	    {&empty, {8, 0, false, false}, NULL},
	    {&empty, {8, 0, true, false}, NULL},
	    {&empty, {8, 2, false, false}, "longer"},
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		const char *why =
		    source_imap_header_verdict(cases[i].m, &cases[i].r);
		char what[80];
		snprintf(what, sizeof(what), "header verdict %zu: %s", i,
			 cases[i].why ? cases[i].why : "complete");
		tap_ok(cases[i].why == NULL
			   ? why == NULL
			   : why != NULL && strstr(why, cases[i].why),
		       what);
	}
}

static void test_peek_uid(void)
{
	static const struct {
		const char *buf;
		uint32_t uid;
	} cases[] = {
	    {"* 1 FETCH (UID 7 RFC822.SIZE 3 BODY[] {3}\r\n", 7},
	    {"* 1 FETCH (UID 5 BODY[] {0}\r\n)\r\n"
	     "* 2 FETCH (UID 9 FLAGS (\\Seen) BODY[] {12}\r\n",
	     9},
	    {"* 3 FETCH (FLAGS () UID 4294967295 BODY[] {1}\r\n", 4294967295u},
	    {"* 1 fetch (uid 7 body[] {3}\r\n", 7},
	    {"* 1 FETCH (BODY[] {12}\r\n", 0}, /* UID after */
	    {"* 1 FETCH (UID 5 BODY[] {0}\r\n)\r\n"
	     "* 2 FETCH (BODY[] {12}\r\n",
	     0}, /* not the old UID */
	    {"* 1 FETCH (RFC822.SIZE 3 BODY[] {3}\r\n", 0},
	    {"* 1 FETCH (UID 7 BODY[HEADER] {3}\r\n", 7},
	    {"* 1 fetch (uid 8 body[header] {0}\r\n", 8},
	    {"* 1 FETCH (UID 7 BODY[1.HEADER] {3}\r\n", 0},
	    {"* 1 FETCH (UID 7 BODY[HEADER.FIELDS (TO)] {3}\r\n", 0},
	    {"* 1 FETCH (UID 7 BODY[TEXT] {3}\r\n", 0},
	    {"* 1 FETCH (UID 7 RFC822 {3}\r\n", 0},
	    {"* 1 FETCH (UID 99999999999 BODY[] {3}\r\n", 0},
	    {"* 1 FETCH (UID 7X BODY[] {3}\r\n", 0},
	    {"* 1 FETCH (XUID 7 BODY[] {3}\r\n", 0},
	    {"* 1 FETCH (UID 7 BODY[] {3}", 0},
	    {"BODY[] {3}\r\n", 0},
	    {"", 0},
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		char what[64];
		snprintf(what, sizeof(what), "peek UID case %zu: %" PRIu32, i,
			 cases[i].uid);
		tap_ok(source_imap_peek_uid(
			   cases[i].buf, strlen(cases[i].buf)) == cases[i].uid,
		       what);
	}
}

/* --- folders --- */

static void test_folders(void)
{
	static const struct {
		const char *name;
		char sep;
		int ret;
		const char *display;
	} cases[] = {
	    {"INBOX", '/', 1, "INBOX"},
	    {"inbox", '/', 0, NULL},
	    {"Lists/dev", '/', 1, "Lists/dev"},
	    {"Entw&APw-rfe", '/', 1,
	     "Entw\xc3\xbc"
	     "rfe"},
	    {"Lists/dev", '/', 0, NULL},
	    {"lists/dev", '/', 1, "lists/dev"},
	    {"&Jjo", '/', -1, NULL},
	    {"caf\xc3\xa9", '/', -1, NULL},
	    {"", '/', -1, NULL},
	    {"Flat", '\0', 1, "Flat"},
	};
	struct source_folder *f = NULL;
	size_t n = 0, want_n = 0;

	for (size_t i = 0; i < N_OF(cases); i++) {
		char *err = NULL, what[80];
		int r = source_imap_folder_add(&f, &n, cases[i].name,
					       cases[i].sep, &err);
		want_n += cases[i].ret != 0;
		snprintf(what, sizeof(what), "folder \"%s\": %s", cases[i].name,
			 cases[i].ret == 1   ? "added"
			 : cases[i].ret == 0 ? "duplicate"
					     : "refused, named in the error");
		if (cases[i].ret == 1)
			tap_ok(r == 1 && n == want_n &&
				   strcmp(f[n - 1].name, cases[i].name) == 0 &&
				   strcmp(f[n - 1].display, cases[i].display) ==
				       0 &&
				   f[n - 1].sep == cases[i].sep,
			       what);
		else if (cases[i].ret == 0)
			tap_ok(r == 0 && n == want_n && err == NULL, what);
		else
			tap_ok(r == 1 && n == want_n && err == NULL &&
				   f[n - 1].refused != NULL &&
				   strstr(f[n - 1].refused,
					  "server folder \"") != NULL,
			       what);
		free(err);
	}
	for (size_t i = 0; i < n; i++) {
		free(f[i].name);
		free(f[i].display);
		free(f[i].refused);
	}
	free(f);
}

int main(void)
{
	test_uid_set_cases();
	test_uid_set_split();
	test_flags();
	test_date_cases();
	test_date_timegm();
	test_crlf();
	test_quote();
	test_sasl();
	test_listing();
	test_batches();
	test_verdicts();
	test_header_verdicts();
	test_peek_uid();
	test_folders();
	return tap_done();
}
