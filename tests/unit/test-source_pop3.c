/* SPDX-License-Identifier: ISC */
/* The POP3 listing parser with hostile lines, and the RETR decoder fed
 * in every chunking. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "source_pop3.h"
#include "tap.h"

struct uidl_case {
	const char *line;
	int ok;
	unsigned idx;
	const char *uid;
};

static const struct uidl_case uidl_cases[] = {
	{"1 000000015a1b2c3d", 1, 1, "000000015a1b2c3d"},
	{"42 abc", 1, 42, "abc"},
	{"7   spaced", 1, 7, "spaced"},
	{"1000000 x", 1, 1000000, "x"},
	{"1000001 x", 0, 0, NULL},              /* beyond the cap */
	{"0 abc", 0, 0, NULL},                  /* index 0 */
	{"-1 abc", 0, 0, NULL},
	{"abc", 0, 0, NULL},
	{"1", 0, 0, NULL},
	{"1 ", 0, 0, NULL},                     /* empty UIDL */
	{"99999999999999999999 x", 0, 0, NULL}, /* overflow */
	{"1 has space", 0, 0, NULL},
	{"1 tab\there", 0, 0, NULL},
	{"1 caf\xc3\xa9", 0, 0, NULL},          /* 8-bit */
	{"1 \x7f", 0, 0, NULL},
	{"1 0123456789012345678901234567890123456789012345678901234567890123456789",
	 1, 1, "0123456789012345678901234567890123456789012345678901234567890123456789"},
	{"1 01234567890123456789012345678901234567890123456789012345678901234567890",
	 0, 0, NULL},                           /* 71 characters */
};

static void test_uidl(void)
{
	for (size_t i = 0; i < sizeof(uidl_cases) / sizeof(*uidl_cases); i++) {
		const struct uidl_case *c = &uidl_cases[i];
		uint32_t idx = 0;
		char uid[SOURCE_UID_MAX + 1] = "", *err = NULL;
		int r = source_pop3_parse_uidl(c->line, strlen(c->line), &idx,
					       uid, &err);
		char what[160];
		snprintf(what, sizeof(what), "UIDL line %zu %s", i,
			 c->ok ? "accepted" : "refused with a reason");
		if (c->ok)
			tap_ok(r == 0 && idx == c->idx &&
				       strcmp(uid, c->uid) == 0,
			       what);
		else
			tap_ok(r < 0 && err != NULL && *err != '\0', what);
		free(err);
	}
	/* A NUL inside the line is a byte outside 0x21-0x7E. */
	uint32_t idx;
	char uid[SOURCE_UID_MAX + 1], *err = NULL;
	tap_ok(source_pop3_parse_uidl("1 a\0b", 5, &idx, uid, &err) < 0,
	       "UIDL with a NUL byte refused");
	free(err);
}

struct list_case {
	const char *line;
	int ok;
	unsigned idx;
	uint64_t size;
};

static const struct list_case list_cases[] = {
	{"1 1234", 1, 1, 1234},
	{"3 0", 1, 3, 0},
	{"2 1099511627776", 1, 2, 1099511627776ULL},
	{"2 1099511627777", 0, 0, 0},     /* more than 1 TB */
	{"2 -5", 0, 0, 0},
	{"2 18446744073709551616", 0, 0, 0},
	{"0 10", 0, 0, 0},
	{"1 10 extra", 0, 0, 0},
	{"1 10 ", 1, 1, 10},
	{"1", 0, 0, 0},
	{"", 0, 0, 0},
	{"x 10", 0, 0, 0},
};

static void test_list(void)
{
	for (size_t i = 0; i < sizeof(list_cases) / sizeof(*list_cases); i++) {
		const struct list_case *c = &list_cases[i];
		uint32_t idx = 0;
		uint64_t size = 0;
		char *err = NULL, what[64];
		int r = source_pop3_parse_list(c->line, strlen(c->line), &idx,
					       &size, &err);
		snprintf(what, sizeof(what), "LIST line %zu \"%s\"", i,
			 c->line);
		tap_ok(c->ok ? r == 0 && idx == c->idx && size == c->size
			     : r < 0 && err != NULL,
		       what);
		free(err);
	}
}

static void test_merge(void)
{
	uint32_t li[] = {1, 2, 3};
	uint64_t ls[] = {10, 20, 30};
	uint32_t ui[] = {1, 2, 3};
	char uu[3][SOURCE_UID_MAX + 1] = {"a", "b", "c"};
	struct source_listing l = {0};
	char *err = NULL;

	tap_ok(source_pop3_merge(li, ls, 3, ui, uu, 3, true, &l, &err) == 0 &&
		       l.n == 3 && l.has_uids &&
		       strcmp(l.msgs[2].uid, "c") == 0 && l.msgs[1].size == 20,
	       "merge: matching listings");
	free(l.msgs);

	memset(&l, 0, sizeof(l));
	tap_ok(source_pop3_merge(li, ls, 3, ui, uu, 0, false, &l, &err) == 0 &&
		       l.n == 3 && !l.has_uids && l.msgs[0].uid[0] == '\0',
	       "merge: server without UIDL");
	free(l.msgs);

	strcpy(uu[2], "a");
	tap_ok(source_pop3_merge(li, ls, 3, ui, uu, 3, true, &l, &err) < 0 &&
		       strstr(err, "twice") != NULL,
	       "merge: a repeated UIDL is refused");
	free(err);
	err = NULL;
	strcpy(uu[2], "c");

	tap_ok(source_pop3_merge(li, ls, 3, ui, uu, 2, true, &l, &err) < 0,
	       "merge: LIST has a message UIDL does not");
	free(err);
	err = NULL;

	uint32_t ui2[] = {1, 2, 4};
	tap_ok(source_pop3_merge(li, ls, 3, ui2, uu, 3, true, &l, &err) < 0,
	       "merge: listings disagree on numbers");
	free(err);
	err = NULL;

	uint32_t li2[] = {1, 3, 2};
	tap_ok(source_pop3_merge(li2, ls, 3, ui, uu, 0, false, &l, &err) < 0,
	       "merge: LIST out of order");
	free(err);
}

/* Decodes WIRE fed in chunks of CHUNK bytes; returns the output. */
static char *decode(const char *wire, size_t len, size_t chunk,
		    size_t *out_len, size_t *consumed, int *done)
{
	struct source_pop3_dec d;
	char *out = malloc(len + 1), tmp[4096];
	size_t o = 0, pos = 0;

	source_pop3_dec_init(&d);
	*done = 0;
	while (pos < len && !*done) {
		size_t n = len - pos < chunk ? len - pos : chunk, tl;
		*done = source_pop3_dec_run(&d, wire + pos, &n, tmp, &tl);
		memcpy(out + o, tmp, tl);
		o += tl;
		pos += n;
	}
	*out_len = o;
	*consumed = pos;
	return out;
}

struct dec_case {
	const char *wire;
	size_t wire_len;
	const char *want;
	size_t want_len;
	const char *what;
};

#define W(s) s, sizeof(s) - 1

static const struct dec_case dec_cases[] = {
	{W("Subject: x\r\n\r\nbody\r\n.\r\n"), W("Subject: x\n\nbody\n"),
	 "plain message"},
	{W("..\r\n...\r\n.x\r\n.\r\n"), W(".\n..\nx\n"), "dot-unstuffing"},
	{W("a\rb\r\r\n.\r\n"), W("a\rb\r\n"), "bare CR kept, CRLF to LF"},
	{W("a\nb\r\n.\r\n"), W("a\nb\n"), "bare LF kept"},
	{W("nul\0byte\r\n.\r\n"), W("nul\0byte\n"), "NUL byte kept"},
	{W("From x\r\n>From y\r\n.\r\n"), W("From x\n>From y\n"),
	 "From lines untouched (quoting is the sink's job)"},
	{W(".\r\n"), W(""), "empty message"},
	{W(".\rx\r\n.\r\n"), W("\rx\n"), "dot then bare CR"},
	{W("x\r\n.\r\nRETR-NEXT"), W("x\n"), "stops at the terminator"},
	/* TOP n 0 replies, as dovecot sends them: the header section and
	 * its empty line; without an empty line, the whole message. */
	{W("Subject: x\r\n..dot: y\r\n\r\n.\r\nTOP-NEXT"),
	 W("Subject: x\n.dot: y\n\n"), "TOP reply: header and empty line"},
	{W("Subject: x\r\n\tfolded\r\n.\r\n"), W("Subject: x\n\tfolded\n"),
	 "TOP reply: a message with no empty line"},
	{W("\r\n.\r\n"), W("\n"), "TOP reply: an empty header section"},
};

static void test_decoder(void)
{
	for (size_t i = 0; i < sizeof(dec_cases) / sizeof(*dec_cases); i++) {
		const struct dec_case *c = &dec_cases[i];
		int all_ok = 1;
		size_t term = c->wire_len;
		const char *extra = memmem(c->wire, c->wire_len, "RETR-NEXT", 9);
		if (extra == NULL)
			extra = memmem(c->wire, c->wire_len, "TOP-NEXT", 8);
		if (extra != NULL)
			term = (size_t)(extra - c->wire);
		for (size_t chunk = 1; chunk <= c->wire_len; chunk++) {
			size_t ol, used;
			int done;
			char *out = decode(c->wire, c->wire_len, chunk, &ol,
					   &used, &done);
			if (!done || used != term || ol != c->want_len ||
			    memcmp(out, c->want, ol) != 0)
				all_ok = 0;
			free(out);
		}
		tap_ok(all_ok, c->what);
	}
}

/* The plain reading of RFC 1939 the decoder must agree with, one byte at
 * a time: a line starting with a dot loses it; ".CRLF" (or ".LF") alone
 * ends; CRLF becomes LF.  Returns the output length, sets *used. */
static size_t reference_decode(const char *in, size_t n, char *out,
			       size_t *used)
{
	size_t o = 0, i = 0;

	while (i < n) {
		size_t e = i;
		while (e < n && in[e] != '\n')
			e++;
		size_t len = e - i, start = i;
		bool crlf = len > 0 && in[e - 1] == '\r' && e < n;
		if (crlf)
			len--;
		if (e < n && len == 1 && in[start] == '.') {
			*used = e + 1;
			return o;
		}
		if (len > 0 && in[start] == '.')
			start++, len--;
		memcpy(out + o, in + start, len);
		o += len;
		if (e < n)
			out[o++] = '\n';
		i = e + 1;
	}
	*used = n;
	return o;
}

/* Random messages of dots, CRs, LFs and letters, fed in random chunks,
 * decode as the byte-at-a-time reading says. */
static void test_decoder_random(void)
{
	static const char alphabet[] = "..\r\r\n\nab";
	char wire[300], want[320];
	unsigned seed = 1;
	int bad = 0;

	for (int t = 0; t < 5000 && !bad; t++) {
		size_t n = 0, len = (size_t)(rand_r(&seed) % 200);
		while (n < len)
			wire[n++] = alphabet[rand_r(&seed) % 8];
		memcpy(wire + n, "\r\n.\r\n", 5);
		n += 5;
		size_t want_used, ol, used;
		size_t want_len = reference_decode(wire, n, want, &want_used);
		int done;
		size_t chunk = 1 + (size_t)(rand_r(&seed) % 64);
		char *out = decode(wire, n, chunk, &ol, &used, &done);
		if (!done || used != want_used || ol != want_len ||
		    memcmp(out, want, ol) != 0)
			bad = t + 1;
		free(out);
	}
	tap_ok(!bad, "5000 random messages decode as byte-by-byte RFC 1939 "
		     "reading says");
}

static void test_long_line(void)
{
	size_t n = 20000;
	char *wire = malloc(n + 8), *want = malloc(n + 1);
	memset(wire, 'y', n);
	memcpy(wire + n, "\r\n.\r\n", 5);
	memset(want, 'y', n);
	want[n] = '\n';
	size_t ol, used;
	int done;
	char *out = decode(wire, n + 5, 4096, &ol, &used, &done);
	tap_mem(out, ol, want, n + 1, "20,000-character line");
	free(out);
	free(wire);
	free(want);
}

int main(void)
{
	test_uidl();
	test_list();
	test_merge();
	test_decoder();
	test_decoder_random();
	test_long_line();
	return tap_done();
}
