/* SPDX-License-Identifier: ISC */
/* Unit tests for the mbox sink: mboxrd quoting both ways, the From_ line,
 * the sender, and whole runs against a temporary mbox (commit, abort,
 * rollback, locks, write errors). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sink_mbox.h"
#include "sinktest.h"
#include "tap.h"
#include "util.h"

#define S(x) x, sizeof(x) - 1

/* ---- helpers ---------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_put(void *ctx, const void *data, size_t len)
{
	struct buf *b = ctx;

	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

/* Runs the (un)quoter over IN, cut into pieces at CUT1 and CUT2. */
static struct buf run_cut(bool unquote, const char *in, size_t len, size_t cut1,
			  size_t cut2)
{
	struct sink_mbox_quoter q;
	/* Never NULL: memcmp must not see it, even for 0 bytes. */
	struct buf out = {xmalloc(1), 0, 1};

	sink_mbox_quoter_init(&q, unquote);
	sink_mbox_quoter_feed(&q, in, cut1, buf_put, &out);
	sink_mbox_quoter_feed(&q, in + cut1, cut2 - cut1, buf_put, &out);
	sink_mbox_quoter_feed(&q, in + cut2, len - cut2, buf_put, &out);
	sink_mbox_quoter_finish(&q, buf_put, &out);
	return out;
}

/* Runs the (un)quoter over IN in pieces of CHUNK bytes. */
static struct buf run_chunks(bool unquote, const char *in, size_t len,
			     size_t chunk)
{
	struct sink_mbox_quoter q;
	/* Never NULL: memcmp must not see it, even for 0 bytes. */
	struct buf out = {xmalloc(1), 0, 1};

	sink_mbox_quoter_init(&q, unquote);
	for (size_t i = 0; i < len; i += chunk)
		sink_mbox_quoter_feed(&q, in + i,
				      len - i < chunk ? len - i : chunk,
				      buf_put, &out);
	sink_mbox_quoter_finish(&q, buf_put, &out);
	return out;
}

static bool same(const struct buf *b, const char *want, size_t want_len)
{
	return b->len == want_len &&
	       (want_len == 0 || memcmp(b->p, want, want_len) == 0);
}

static char *read_all(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	struct buf b = {0};
	char chunk[8192];
	size_t n;

	if (f == NULL) {
		*len_r = 0;
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_put(&b, chunk, n);
	fclose(f);
	buf_put(&b, "", 1);
	*len_r = b.len - 1;
	return b.p;
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* ---- quoting ---------------------------------------------------------- */

struct qcase {
	const char *in;
	size_t in_len;
	const char *out;
	size_t out_len;
	const char *what;
};

static const struct qcase qcases[] = {
    {S("From x\n"), S(">From x\n"), "From x"},
    {S(">From x\n"), S(">>From x\n"), ">From x"},
    {S(">>From x\n"), S(">>>From x\n"), ">>From x"},
    {S("From\n"), S("From\n"), "From without space"},
    {S("From"), S("From"), "From at the very end"},
    {S("From "), S(">From "), "From_ without newline at the end"},
    {S("Fromage\n"), S("Fromage\n"), "Fromage"},
    {S("from x\n"), S("from x\n"), "lowercase from"},
    {S(" From x\n"), S(" From x\n"), "space before From"},
    {S("x From y\n"), S("x From y\n"), "From mid-line"},
    {S("FFrom x\n"), S("FFrom x\n"), "FFrom"},
    {S(">F>From x\n"), S(">F>From x\n"), "> inside the word"},
    {S(">>>>From>From \n"), S(">>>>From>From \n"), "From> not From "},
    {S("From From x\n"), S(">From From x\n"), "From From"},
    {S("a\nFrom x\nb\n"), S("a\n>From x\nb\n"), "From_ line mid-body"},
    {S("\n\nFrom \n\n"), S("\n\n>From \n\n"), "after blank lines"},
    {S("a\nFrom x"), S("a\n>From x"), "last line without newline"},
    {S("no final newline"), S("no final newline"), "no final newline"},
    {S(">\n>>\n>"), S(">\n>>\n>"), "lone >"},
    {S(""), S(""), "empty"},
    {S("\n"), S("\n"), "one newline"},
    {S("a\0From x\n"), S("a\0From x\n"), "NUL then From mid-line"},
    {S("\0\nFrom \0\n"), S("\0\n>From \0\n"), "NUL bytes around From_"},
    {S("From a\0\n>From b\nc"), S(">From a\0\n>>From b\nc"),
     "two From_ lines and NUL"},
};

static void test_quote_table(void)
{
	for (size_t i = 0; i < sizeof(qcases) / sizeof(qcases[0]); i++) {
		const struct qcase *c = &qcases[i];
		struct buf b =
		    run_chunks(false, c->in, c->in_len, c->in_len + 1);
		char *what = xasprintf("quote: %s", c->what);
		tap_mem(b.p, b.len, c->out, c->out_len, what);
		free(what);
		free(b.p);
		b = run_chunks(true, c->out, c->out_len, c->out_len + 1);
		what = xasprintf("unquote: %s", c->what);
		tap_mem(b.p, b.len, c->in, c->in_len, what);
		free(what);
		free(b.p);
	}
}

/* Every way of cutting each case into three chunks, and byte by byte. */
static void test_quote_cuts(void)
{
	for (size_t i = 0; i < sizeof(qcases) / sizeof(qcases[0]); i++) {
		const struct qcase *c = &qcases[i];
		bool ok = true;
		for (size_t a = 0; a <= c->in_len; a++) {
			for (size_t z = a; z <= c->in_len; z++) {
				struct buf b =
				    run_cut(false, c->in, c->in_len, a, z);
				ok = ok && same(&b, c->out, c->out_len);
				free(b.p);
			}
		}
		for (size_t a = 0; a <= c->out_len; a++) {
			struct buf b = run_cut(true, c->out, c->out_len, a, a);
			ok = ok && same(&b, c->in, c->in_len);
			free(b.p);
		}
		struct buf b = run_chunks(false, c->in, c->in_len, 1);
		ok = ok && same(&b, c->out, c->out_len);
		free(b.p);
		char *what = xasprintf("every chunk cut: %s", c->what);
		tap_ok(ok, what);
		free(what);
	}
}

static void test_quote_long_lines(void)
{
	const size_t n = 20000;
	struct buf in = {0}, want = {0};
	char *xs = xmalloc(n), *gts = xmalloc(n);

	memset(xs, 'x', n);
	memset(gts, '>', n);
	buf_put(&in, S("From "));
	buf_put(&in, xs, n);
	buf_put(&in, S("\n"));
	buf_put(&in, gts, n);
	buf_put(&in, S("From y\n"));
	buf_put(&in, gts, n);
	buf_put(&in, S("x\n"));
	buf_put(&in, xs, n);
	buf_put(&want, S(">From "));
	buf_put(&want, xs, n);
	buf_put(&want, S("\n>"));
	buf_put(&want, gts, n);
	buf_put(&want, S("From y\n"));
	buf_put(&want, gts, n);
	buf_put(&want, S("x\n"));
	buf_put(&want, xs, n);
	for (size_t chunk = 1; chunk <= 65536; chunk *= 8) {
		struct buf b = run_chunks(false, in.p, in.len, chunk);
		char *what =
		    xasprintf("20,000-char lines, chunks of %zu", chunk);
		tap_ok(same(&b, want.p, want.len), what);
		free(what);
		free(b.p);
	}
	size_t un_len;
	char *un = sink_mbox_unquote(want.p, want.len, &un_len);
	tap_ok(un_len == in.len && memcmp(un, in.p, in.len) == 0,
	       "20,000-char lines: unquote restores them");
	free(un);
	free(in.p);
	free(want.p);
	free(xs);
	free(gts);
}

/* Round trip quote -> unquote over many pseudo-random messages built from
 * the bytes that matter, in random chunk sizes. */
static void test_quote_round_trip(void)
{
	static const char alphabet[] = "From >\n\nxF>";
	uint32_t seed = 12345;
	bool ok = true, clean = true;
	char msg[300];

	for (int iter = 0; iter < 5000; iter++) {
		seed = seed * 1103515245u + 12345u;
		size_t len = (seed >> 8) % sizeof(msg);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			msg[i] = alphabet[(seed >> 8) % sizeof(alphabet)];
		}
		size_t chunk = 1 + (seed >> 20) % 9;
		struct buf q = run_chunks(false, msg, len, chunk);
		struct buf u = run_chunks(true, q.p, q.len, chunk + 1);
		ok = ok && same(&u, msg, len);
		/* No line of the quoted text may start with "From ". */
		for (size_t i = 0; i + 5 <= q.len; i++)
			if ((i == 0 || q.p[i - 1] == '\n') &&
			    memcmp(q.p + i, "From ", 5) == 0)
				clean = false;
		free(q.p);
		free(u.p);
	}
	tap_ok(ok, "round trip quote -> unquote is the identity (5000 runs)");
	tap_ok(clean, "quoted text never has a line starting \"From \"");
}

/* ---- From_ line and sender -------------------------------------------- */

static void test_from_line(void)
{
	static const struct {
		const char *sender;
		time_t t;
		const char *want;
	} cases[] = {
	    {"MAILER-DAEMON", 0,
	     "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n"},
	    {"a@b", 1000000000, "From a@b Sun Sep  9 01:46:40 2001\n"},
	    {"u@example.org", 1795544568,
	     "From u@example.org Tue Nov 24 18:22:48 2026\n"},
	    {"x", 951782400, "From x Tue Feb 29 00:00:00 2000\n"},
	    {"y", 4102444799, "From y Thu Dec 31 23:59:59 2099\n"},
	};
	char line[SINK_MBOX_FROM_LINE_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = sink_mbox_from_line(line, sizeof(line), cases[i].sender,
					    cases[i].t);
		char *what =
		    xasprintf("From_ line at t=%lld", (long long)cases[i].t);
		tap_str(n >= 0 ? line : NULL, cases[i].want, what);
		tap_ok(n == (int)strlen(cases[i].want), "and its length");
		free(what);
	}
	tap_ok(sink_mbox_from_line(line, 20, "MAILER-DAEMON", 0) == -1,
	       "From_ line: too small a buffer is refused");
}

static void test_sender(void)
{
	static const struct {
		const char *hdr;
		const char *want;
		const char *what;
	} cases[] = {
	    {"Return-Path: <a@b>\nSubject: x\n\n", "a@b", "<a@b>"},
	    {"Return-Path: <>\n\n", "MAILER-DAEMON", "<>"},
	    {"Subject: x\n\n", "MAILER-DAEMON", "missing"},
	    {"", "MAILER-DAEMON", "empty message"},
	    {"Return-Path: <a b@c\x01\td>\n\n", "ab@cd",
	     "spaces and control chars dropped"},
	    {"Return-Path: <8bit\xc3\xa9@x>\n\n", "8bit@x",
	     "8-bit bytes dropped"},
	    {"Return-Path:\n <folded@x>\n\n", "folded@x", "folded"},
	    {"Return-Path: <fol\n\tded@x>\n\n", "folded@x",
	     "folded inside the address"},
	    {"Subject: x\n\nReturn-Path: <body@x>\n", "MAILER-DAEMON",
	     "in the body: ignored"},
	    {"\nReturn-Path: <body@x>\n", "MAILER-DAEMON",
	     "no header at all: ignored"},
	    {"return-PATH: <lower@x>\n\n", "lower@x", "case-insensitive"},
	    {"Return-Path : <obs@x>\n\n", "obs@x", "blank before colon"},
	    {"Return-Path: bare@x\n\n", "bare@x", "without brackets"},
	    {"Return-Path: <a@b> (comment)\n\n", "a@b", "comment after"},
	    {"Return-Path: <first@x>\nReturn-Path: <second@x>\n\n", "first@x",
	     "first one wins"},
	    {"X-Return-Path: <no@x>\n\n", "MAILER-DAEMON", "other field name"},
	    {"Return-Paths: <no@x>\n\n", "MAILER-DAEMON", "longer name"},
	    {"X: y\n Return-Path: <cont@x>\n\n", "MAILER-DAEMON",
	     "continuation line is not a field"},
	    {"Return-Path: <a@b", "a@b", "cut short"},
	    {"Return-Path: < <>> >\n\n", "MAILER-DAEMON", "only junk"},
	};
	char out[SINK_MBOX_SENDER_MAX + 1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sink_mbox_sender(cases[i].hdr, strlen(cases[i].hdr), out,
				 sizeof(out));
		char *what = xasprintf("sender: %s", cases[i].what);
		tap_str(out, cases[i].want, what);
		free(what);
	}

	char hdr[400], want[SINK_MBOX_SENDER_MAX + 1];
	memset(want, 'a', SINK_MBOX_SENDER_MAX);
	want[SINK_MBOX_SENDER_MAX] = '\0';
	snprintf(hdr, sizeof(hdr), "Return-Path: <%s%s>\n\n", want,
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	sink_mbox_sender(hdr, strlen(hdr), out, sizeof(out));
	tap_str(out, want, "sender: capped at SINK_MBOX_SENDER_MAX");
	sink_mbox_sender("Return-Path: <a@b>\n\n", 13, out, sizeof(out));
	tap_str(out, "MAILER-DAEMON", "sender: only LEN bytes are read");
}

/* ---- whole sink runs -------------------------------------------------- */

/* Is BODY (LEN bytes) a From_ line for SENDER at a time in [T0, T1]
 * followed by REST?  Returns the From_ line's length, or 0. */
static size_t match_from(const char *got, size_t len, const char *sender,
			 time_t t0, time_t t1)
{
	char line[SINK_MBOX_FROM_LINE_MAX];

	for (time_t t = t0; t <= t1; t++) {
		int n = sink_mbox_from_line(line, sizeof(line), sender, t);
		if (n > 0 && (size_t)n <= len && memcmp(got, line, n) == 0)
			return (size_t)n;
	}
	return 0;
}

static const char msg1[] = "Return-Path: <a@b>\nSubject: one\n\n"
			   "From here\n>From there\nNUL:\0:end\n";
static const char msg1_q[] = "Return-Path: <a@b>\nSubject: one\n\n"
			     ">From here\n>>From there\nNUL:\0:end\n\n";
static const char msg2[] = "Subject: two\n\nno newline at end";
static const char msg2_q[] = "Subject: two\n\nno newline at end\n\n";

static void test_run(const char *dir)
{
	char *path = xasprintf("%s/new/sub/mbox", dir);
	char *parent = xasprintf("%s/new/sub", dir);
	struct sink *s = NULL;
	char *err = NULL;
	struct stat st;

	tap_ok(sink_mbox_ops.open(NULL, path, 0, &s, &err) == 0,
	       "open creates a missing mbox and its parents");
	tap_ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600,
	       "a new mbox has mode 0600");
	tap_ok(stat(parent, &st) == 0 && (st.st_mode & 0777) == 0700,
	       "its new parent has mode 0700");
	time_t t0 = time(NULL);
	char *loc1 = deliver(s, msg1, sizeof(msg1) - 1, 3);
	char *loc2 = deliver(s, msg2, sizeof(msg2) - 1, 1000);
	char *lock = xasprintf("%s.lock", path);
	tap_ok(exists(lock), "the dotlock is held during the batch");
	tap_ok(s->ops->commit(s, &err) == 0, "commit two messages");
	tap_ok(!exists(lock), "commit releases the dotlock");
	free(lock);
	time_t t1 = time(NULL);

	size_t len;
	char *got = read_all(path, &len);
	size_t f1 = match_from(got, len, "a@b", t0, t1);
	size_t off2 = f1 + sizeof(msg1_q) - 1;
	bool ok = f1 > 0 && len > off2 &&
		  memcmp(got + f1, msg1_q, sizeof(msg1_q) - 1) == 0;
	size_t f2 =
	    ok ? match_from(got + off2, len - off2, "MAILER-DAEMON", t0, t1)
	       : 0;
	ok = ok && f2 > 0 && len == off2 + f2 + sizeof(msg2_q) - 1 &&
	     memcmp(got + off2 + f2, msg2_q, sizeof(msg2_q) - 1) == 0;
	tap_ok(ok, "the mbox holds both messages, byte for byte");
	tap_str(loc1, "mbox:0", "location of the first message");
	char *want2 = xasprintf("mbox:%zu", off2);
	tap_str(loc2, want2, "location of the second message");
	free(want2);
	free(got);
	free(loc1);
	free(loc2);
	s->ops->close(&s);
	tap_ok(s == NULL, "close sets the sink to NULL");
	free(parent);
	free(path);
}

static void test_abort(const char *dir)
{
	char *path = xasprintf("%s/abort", dir);
	char *lock = xasprintf("%s.lock", path);
	struct sink *s = NULL;
	char *err = NULL;
	size_t n = 300 * 1024, before_len, after_len;
	char *big = xmalloc(n);

	memset(big, 'x', n);
	write_file(path, S("From a Thu Jan  1 00:00:00 1970\nold\n\n"));
	char *before = read_all(path, &before_len);
	sink_mbox_ops.open(NULL, path, 0, &s, &err);
	tap_ok(s->ops->begin(s, NULL, &err) == 0, "abort: begin");
	tap_ok(exists(lock), "begin takes the dotlock");
	tap_ok(s->ops->write(s, big, n, &err) == 0, "abort: write 300 KB");
	tap_ok(file_size(path) > (off_t)before_len,
	       "part of the message reached the file");
	s->ops->abort(s);
	char *after = read_all(path, &after_len);
	tap_mem(after, after_len, before, before_len,
		"abort restores the exact previous bytes");
	tap_ok(!exists(lock), "abort with nothing ended releases the lock");
	free(after);

	char *loc = deliver(s, S("Subject: kept\n\nbody\n"), 5);
	tap_ok(loc != NULL, "a message after an abort ends");
	free(loc);
	tap_ok(s->ops->commit(s, &err) == 0, "and commits");
	tap_ok(!exists(lock), "commit releases the lock");
	after = read_all(path, &after_len);
	tap_ok(after_len > before_len &&
		   memcmp(after, before, before_len) == 0 &&
		   memmem(after, after_len, "\nSubject: kept\n\nbody\n\n",
			  22) != NULL,
	       "the next message follows the old ones");
	s->ops->close(&s);
	free(after);
	free(before);
	free(big);
	free(lock);
	free(path);
}

static void test_rollback(const char *dir)
{
	char *path = xasprintf("%s/rollback", dir);
	char *lock = xasprintf("%s.lock", path);
	struct sink *s = NULL;
	char *err = NULL;
	size_t before_len, after_len;

	sink_mbox_ops.open(NULL, path, 0, &s, &err);
	char *loc = deliver(s, S("Subject: a\n\nfirst\n"), 4);
	s->ops->commit(s, &err);
	free(loc);
	char *before = read_all(path, &before_len);
	loc = deliver(s, S("Subject: b\n\nsecond\n"), 4);
	free(loc);
	loc = deliver(s, S("Subject: c\n\nthird\n"), 4);
	free(loc);
	tap_ok(file_size(path) > (off_t)before_len,
	       "two ended messages are in the file");
	s->ops->rollback(s);
	char *after = read_all(path, &after_len);
	tap_mem(after, after_len, before, before_len,
		"rollback restores the committed bytes");
	tap_ok(!exists(lock), "rollback releases the lock");
	free(after);

	loc = deliver(s, S("Subject: d\n\nfourth\n"), 4);
	free(loc);
	tap_ok(s->ops->begin(s, NULL, &err) == 0 &&
		   s->ops->write(s, S("Subject: e\n\npartial"), &err) == 0,
	       "one ended and one half-written message");
	s->ops->close(&s);
	after = read_all(path, &after_len);
	tap_mem(after, after_len, before, before_len,
		"close rolls back everything uncommitted");
	tap_ok(!exists(lock), "close releases the lock");
	free(after);
	free(before);
	free(lock);
	free(path);
}

/* A message whose header never ends, into an mbox whose last message
 * lacks its blank line. */
static void test_separator(const char *dir)
{
	static const char old[] = "From a Thu Jan  1 00:00:00 1970\nold";
	static const char tail[] = "Return-Path: <x@y>\nSubject: s\n\n";
	char *path = xasprintf("%s/separator", dir);
	struct sink *s = NULL;
	char *err = NULL;
	size_t len, n = sizeof(old) - 1;

	write_file(path, old, n);
	sink_mbox_ops.open(NULL, path, 0, &s, &err);
	time_t t0 = time(NULL);
	char *loc = deliver(s, S("Return-Path: <x@y>\nSubject: s"), 2);
	s->ops->commit(s, &err);
	char *got = read_all(path, &len);
	size_t f = len > n + 2 ? match_from(got + n + 2, len - n - 2, "x@y", t0,
					    time(NULL))
			       : 0;
	tap_ok(f > 0 && memcmp(got + n, "\n\n", 2) == 0,
	       "a blank line is added before our From_ line when missing");
	tap_ok(f > 0 && len == n + 2 + f + sizeof(tail) - 1 &&
		   memcmp(got + n + 2 + f, tail, sizeof(tail) - 1) == 0,
	       "a header without end still gives the sender");
	char *want = xasprintf("mbox:%zu", n + 2);
	tap_str(loc, want, "location skips the added blank line");
	free(want);
	free(loc);
	free(got);
	s->ops->close(&s);
	free(path);
}

/* Delivers and commits MSG into a new mbox at DIR/NAME; returns the file
 * (caller frees) and the length of its From_ line for SENDER. */
static char *deliver_alone(const char *dir, const char *name, const char *msg,
			   size_t msg_len, const char *sender, size_t *len_r,
			   size_t *from_r)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct sink *s = NULL;
	char *err = NULL;

	sink_mbox_ops.open(NULL, path, 0, &s, &err);
	time_t t0 = time(NULL);
	char *loc = deliver(s, msg, msg_len, 4096);
	s->ops->commit(s, &err);
	s->ops->close(&s);
	char *got = read_all(path, len_r);
	*from_r = match_from(got, *len_r, sender, t0, time(NULL));
	free(loc);
	free(path);
	return got;
}

static void test_empty_message(const char *dir)
{
	size_t len, f;
	char *got =
	    deliver_alone(dir, "empty", "", 0, "MAILER-DAEMON", &len, &f);

	tap_ok(f > 0 && len == f + 1 && got[len - 1] == '\n',
	       "an empty message is a From_ line and a blank line");
	free(got);
}

static void test_big_header(const char *dir)
{
	struct buf m = {0};
	size_t len, f;

	buf_put(&m, S("Return-Path: <big@x>\n"));
	while (m.len < SINK_MBOX_HEADER_MAX + 1000)
		buf_put(&m,
			S("X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"));
	buf_put(&m, S("\nFrom body\n"));
	char *got =
	    deliver_alone(dir, "bighdr", m.p, m.len, "MAILER-DAEMON", &len, &f);
	tap_ok(f > 0 && len == f + m.len + 2 &&
		   memcmp(got + f, m.p, m.len - 10) == 0 &&
		   memcmp(got + f + m.len - 10, ">From body\n\n", 12) == 0,
	       "a header past 256 KB: MAILER-DAEMON, bytes intact");
	free(got);
	free(m.p);
}

static void test_locked(const char *dir)
{
	char *path = xasprintf("%s/locked", dir);
	char *lock = xasprintf("%s.lock", path);
	char *want =
	    xasprintf("mbox %s: locked by another program (%s)", path, lock);
	struct sink *s = NULL, *other = NULL;
	char *err = NULL;
	char pid[32];

	write_file(path, S("From a Thu Jan  1 00:00:00 1970\nold\n\n"));
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	write_file(lock, pid, strlen(pid));
	sink_mbox_ops.open(NULL, path, 0, &s, &err);
	tap_ok(s->ops->begin(s, NULL, &err) == SINK_LOCKED,
	       "a held dotlock: begin reports SINK_LOCKED");
	tap_str(err, want, "the error says who holds it");
	free(err);
	err = NULL;
	tap_ok(s->ops->commit(s, &err) == 0, "commit of nothing is fine");
	tap_ok(file_size(path) == 37, "nothing was written");
	tap_ok(exists(lock), "the other program's dotlock is left alone");
	unlink(lock);

	/* Another sink on the same file holds the fcntl lock: OFD locks
	 * exclude it even within one process. */
	sink_mbox_ops.open(NULL, path, 0, &other, &err);
	tap_ok(other->ops->begin(other, NULL, &err) == 0,
	       "a second sink begins");
	tap_ok(s->ops->begin(s, NULL, &err) == SINK_LOCKED,
	       "a held fcntl lock: begin reports SINK_LOCKED");
	tap_str(err, want, "with the same error");
	free(err);
	err = NULL;
	other->ops->abort(other);
	tap_ok(s->ops->begin(s, NULL, &err) == 0, "begins once it is released");
	s->ops->abort(s);
	other->ops->close(&other);
	s->ops->close(&s);
	free(want);
	free(lock);
	free(path);
}

/* A dotlock older than 5 minutes whose process is gone is stale. */
static void test_stale_dotlock(const char *dir)
{
	char *path = xasprintf("%s/stale", dir);
	char *lock = xasprintf("%s.lock", path);
	struct sink *s = NULL;
	char *err = NULL;
	char pid[32];

	sink_mbox_ops.open(NULL, path, 0, &s, &err);
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	snprintf(pid, sizeof(pid), "%ld\n", (long)child);
	write_file(lock, pid, strlen(pid));
	struct timespec old[2] = {{time(NULL) - 600, 0}, {time(NULL) - 600, 0}};
	utimensat(AT_FDCWD, lock, old, 0);
	char *loc = deliver(s, S("Subject: s\n\nb\n"), 100);
	tap_ok(loc != NULL, "a stale dotlock is removed");
	tap_ok(s->ops->commit(s, &err) == 0 && !exists(lock),
	       "and ours is gone after commit");
	free(loc);
	s->ops->close(&s);
	free(lock);
	free(path);
}

/* A write that fails (EFBIG from RLIMIT_FSIZE, standing in for a full
 * disk) is reported, and abort leaves the mbox as it was. */
static void test_write_error(const char *dir)
{
	char *path = xasprintf("%s/full", dir);
	char *want = xasprintf("mbox %s: write: %s", path, strerror(EFBIG));
	struct sink *s = NULL;
	char *err = NULL;
	size_t n = 64 * 1024, before_len, after_len;
	char *chunk = xmalloc(n);
	struct rlimit saved, lim;

	memset(chunk, 'y', n);
	write_file(path, S("From a Thu Jan  1 00:00:00 1970\nold\n\n"));
	char *before = read_all(path, &before_len);
	sink_mbox_ops.open(NULL, path, 0, &s, &err);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &saved);
	lim = saved;
	lim.rlim_cur = 100 * 1024;
	setrlimit(RLIMIT_FSIZE, &lim);
	int r = s->ops->begin(s, NULL, &err);
	for (int i = 0; i < 5 && r == 0; i++)
		r = s->ops->write(s, chunk, n, &err);
	setrlimit(RLIMIT_FSIZE, &saved);
	tap_ok(r == -1, "a write past the file size limit fails");
	tap_str(err, want, "the error names the path and the cause");
	free(err);
	s->ops->abort(s);
	char *after = read_all(path, &after_len);
	tap_mem(after, after_len, before, before_len,
		"abort after a write error restores the file");
	s->ops->close(&s);
	free(after);
	free(before);
	free(chunk);
	free(want);
	free(path);
}

/* The mbox moved away between batches (rotated, archived): the next batch
 * goes to a new file at the path, not into the moved one. */
static void test_replaced(const char *dir)
{
	char *path = xasprintf("%s/rotated", dir);
	char *moved = xasprintf("%s/rotated.1", dir);
	struct sink *s = NULL;
	char *err = NULL;
	size_t len;

	sink_mbox_ops.open(NULL, path, 0, &s, &err);
	char *loc = deliver(s, S("Subject: a\n\nfirst\n"), 100);
	s->ops->commit(s, &err);
	free(loc);
	off_t first = file_size(path);
	rename(path, moved);
	loc = deliver(s, S("Subject: b\n\nsecond\n"), 100);
	tap_ok(loc != NULL && s->ops->commit(s, &err) == 0,
	       "a batch after the mbox was moved away");
	tap_str(loc, "mbox:0", "starts a new mbox at the path");
	char *got = read_all(path, &len);
	tap_ok(got != NULL && memmem(got, len, "second", 6) != NULL &&
		   memmem(got, len, "first", 5) == NULL,
	       "which holds only the new message");
	tap_ok(file_size(moved) == first, "the moved mbox is untouched");
	free(got);
	free(loc);
	s->ops->close(&s);
	free(moved);
	free(path);
}

/* The From_ line carries the date of the meta, the flags are ignored, and
 * a date of 0 means now; a multi-level parent is created. */
static void test_meta_date(const char *dir)
{
	char *path = xasprintf("%s/deep/er/still/dated", dir);
	struct sink *s = NULL;
	char *err = NULL;
	const struct sink_meta m1 = {.date = 1600000000, .flags = "FS"};
	const struct sink_meta m2 = {.date = 0, .flags = NULL};
	static const char body[] = "Return-Path: <d@e>\n\nbody\n";
	char line[SINK_MBOX_FROM_LINE_MAX];

	tap_ok(sink_mbox_ops.open(NULL, path, 0, &s, &err) == 0,
	       "meta: open creates three missing parents");
	char *l1 = deliver_meta(s, &m1, S(body), 5);
	time_t t0 = time(NULL);
	char *l2 = deliver_meta(s, &m2, S(body), 5);
	time_t t1 = time(NULL);
	s->ops->commit(s, &err);
	size_t len;
	char *got = read_all(path, &len);
	int n = sink_mbox_from_line(line, sizeof(line), "d@e", 1600000000);
	tap_ok(n > 0 && len > (size_t)n && memcmp(got, line, (size_t)n) == 0,
	       "meta: the From_ line carries the given date");
	tap_str(line, "From d@e Sun Sep 13 12:26:40 2020\n",
		"meta: which is 2020-09-13 12:26:40 UTC");
	size_t off2 = (size_t)n + sizeof(body) - 1 + 1;
	tap_ok(n > 0 && len > off2 &&
		   memcmp(got + n, body, sizeof(body) - 1) == 0 &&
		   match_from(got + off2, len - off2, "d@e", t0, t1) > 0,
	       "meta: flags change nothing, date 0 is now");
	tap_str(l1, "mbox:0", "meta: location of the first message");
	free(got);
	free(l1);
	free(l2);
	s->ops->close(&s);
	free(path);
}

static void test_open_errors(const char *dir)
{
	struct sink *s = NULL;
	char *err = NULL;
	char *want = xasprintf("mbox %s: open: Is a directory", dir);

	tap_ok(sink_mbox_ops.open(NULL, dir, 0, &s, &err) == -1 && s == NULL,
	       "open refuses a directory");
	tap_str(err, want, "open error names the path and the cause");
	free(err);
	free(want);
}

int main(void)
{
	char *dir = make_tmpdir();

	test_quote_table();
	test_quote_cuts();
	test_quote_long_lines();
	test_quote_round_trip();
	test_from_line();
	test_sender();
	test_run(dir);
	test_abort(dir);
	test_rollback(dir);
	test_separator(dir);
	test_empty_message(dir);
	test_big_header(dir);
	test_locked(dir);
	test_stale_dotlock(dir);
	test_write_error(dir);
	test_replaced(dir);
	test_open_errors(dir);
	test_meta_date(dir);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return tap_done();
}
