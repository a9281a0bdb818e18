/* SPDX-License-Identifier: ISC */
/* Unit tests for the mbox sink: mboxrd quoting both ways, the From_ line,
 * the sender, and whole runs against a temporary mbox (commit, abort,
 * rollback, locks taken at prepare, write errors, failed commits, the
 * offsets, sizes and hashes prepare gives, sink_hash_range, recovery,
 * scan of our own and other tools' mboxes, verify). */
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

/* mboxrd as a line-by-line rule: a line that is ">"* then "From " gets
 * one more ">" (quote) or one fewer (unquote, when it has one). */
static size_t reference_quote(bool unquote, const char *in, size_t len,
			      char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		size_t g = i;
		while (g < len && in[g] == '>')
			g++;
		bool from = len - g >= 5 && memcmp(in + g, "From ", 5) == 0;
		if (from && !unquote)
			out[o++] = '>';
		if (from && unquote && g > i)
			i++;
		while (i < len && in[i] != '\n')
			out[o++] = in[i++];
		if (i < len)
			out[o++] = in[i++];
	}
	return o;
}

/* Random texts of the letters that matter, in random chunks, both ways. */
static void test_quote_random(void)
{
	static const char *const pieces[] = {"From ", ">", "F", "x", "\n",
					     "Fro", "m ", ">From "};
	char in[400], want[800];
	unsigned seed = 7;
	int bad = 0;

	for (int t = 0; t < 4000 && !bad; t++) {
		size_t n = 0;
		while (n < 300) {
			const char *p = pieces[rand_r(&seed) % 8];
			memcpy(in + n, p, strlen(p));
			n += strlen(p);
		}
		bool unquote = t % 2 == 1;
		size_t wl = reference_quote(unquote, in, n, want);
		struct buf b = run_chunks(unquote, in, n,
					  1 + (size_t)(rand_r(&seed) % 50));
		if (!same(&b, want, wl))
			bad = t + 1;
		free(b.p);
	}
	tap_ok(!bad, "4000 random texts quote and unquote as the line rule "
		     "says, in random chunks");
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
	tap_ok(exists(lock), "the dotlock is held once the batch is prepared");
	tap_ok(file_size(path) == 0, "nothing reaches the mbox before commit");
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
	tap_ok(!exists(lock), "begin does not take the dotlock");
	tap_ok(s->ops->write(s, big, n, &err) == 0, "abort: write 300 KB");
	tap_ok(file_size(path) == (off_t)before_len && !exists(lock),
	       "the message is spooled: the mbox is untouched and unlocked");
	s->ops->abort(s);
	char *after = read_all(path, &after_len);
	tap_mem(after, after_len, before, before_len,
		"abort leaves the exact previous bytes");
	tap_ok(!exists(lock), "abort leaves no lock");
	free(after);

	char *loc = deliver(s, S("Subject: kept\n\nbody\n"), 5);
	tap_ok(loc != NULL, "a message after an abort ends and is prepared");
	free(loc);
	tap_ok(exists(lock), "prepare takes the dotlock");
	tap_ok(s->ops->commit(s, &err) == 0, "and commits");
	tap_ok(!exists(lock), "commit releases the lock");
	after = read_all(path, &after_len);
	tap_ok(after_len > before_len && after_len < before_len + 100 &&
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
	tap_ok(loc != NULL && file_size(path) == (off_t)before_len &&
		   exists(lock),
	       "two prepared messages: the mbox is locked, not yet written");
	s->ops->rollback(s);
	char *after = read_all(path, &after_len);
	tap_mem(after, after_len, before, before_len,
		"rollback leaves the committed bytes");
	tap_ok(!exists(lock), "rollback releases the lock");
	free(after);
	free(loc);

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

/* A commit that fails half-way (EFBIG from RLIMIT_FSIZE, standing in for
 * a full disk): rollback cuts the mbox back to the length measured at
 * prepare.  And bytes another program appended without locking are not
 * ours to cut. */
static void test_failed_commit(const char *dir)
{
	static const char other[] = "From b Thu Jan  1 00:00:00 1970\nrude\n\n";
	char *path = xasprintf("%s/failed", dir);
	char *lock = xasprintf("%s.lock", path);
	struct sink *s = NULL;
	char *err = NULL;
	size_t n = 300 * 1024, before_len, after_len;
	char *big = xmalloc(n);
	struct rlimit saved, lim;

	memset(big, 'y', n);
	memcpy(big, "Subject: big\n\n", 14);
	write_file(path, S("From a Thu Jan  1 00:00:00 1970\nold\n\n"));
	char *before = read_all(path, &before_len);
	sink_mbox_ops.open(NULL, path, 0, &s, &err);
	char *loc = deliver(s, big, n, 65536);
	tap_ok(loc != NULL, "failed commit: a 300 KB message prepared");
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &saved);
	lim = saved;
	lim.rlim_cur = before_len + 100 * 1024;
	setrlimit(RLIMIT_FSIZE, &lim);
	int r = s->ops->commit(s, &err);
	setrlimit(RLIMIT_FSIZE, &saved);
	char *want = xasprintf("mbox %s: append: %s", path, strerror(EFBIG));
	tap_ok(r == -1, "failed commit: the append past the limit fails");
	tap_str(err, want, "failed commit: the error names the cause");
	free(err);
	err = NULL;
	tap_ok(file_size(path) > (off_t)before_len && exists(lock),
	       "failed commit: part of the batch is in the mbox, locked");
	s->ops->rollback(s);
	char *after = read_all(path, &after_len);
	tap_mem(after, after_len, before, before_len,
		"failed commit: rollback truncates back to the old length");
	tap_ok(!exists(lock), "failed commit: rollback releases the lock");
	free(after);
	free(loc);

	/* An appender that ignores the locks, between prepare and commit. */
	loc = deliver(s, S("Subject: polite\n\n"), 100);
	FILE *f = fopen(path, "ab");
	if (f == NULL || fputs(other, f) < 0 || fclose(f) != 0)
		exit(99);
	free(want);
	want = xasprintf("mbox %s: changed under our lock (another program "
			 "does not lock it)",
			 path);
	tap_ok(s->ops->commit(s, &err) == -1, "changed under the lock: "
					      "commit fails");
	tap_str(err, want, "changed under the lock: the error says so");
	free(err);
	s->ops->rollback(s);
	after = read_all(path, &after_len);
	tap_ok(after_len == before_len + sizeof(other) - 1 &&
		   memcmp(after, before, before_len) == 0 &&
		   memcmp(after + before_len, other, sizeof(other) - 1) == 0,
	       "changed under the lock: rollback keeps the other's bytes");
	tap_ok(!exists(lock), "changed under the lock: and unlocks");
	free(after);
	free(loc);
	s->ops->close(&s);
	free(want);
	free(before);
	free(big);
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
	static const char old[] = "From a Thu Jan  1 00:00:00 1970\nold\n\n";
	char *path = xasprintf("%s/locked", dir);
	char *lock = xasprintf("%s.lock", path);
	char *want =
	    xasprintf("mbox %s: locked by another program (%s)", path, lock);
	struct sink *s = NULL, *other = NULL;
	const struct sink_placed *pl = NULL;
	size_t n = 0, len;
	char *err = NULL;
	char pid[32];

	write_file(path, S(old));
	snprintf(pid, sizeof(pid), "%ld\n", (long)getppid());
	write_file(lock, pid, strlen(pid));
	sink_mbox_ops.open(NULL, path, 0, &s, &err);
	tap_ok(stage_meta(s, NULL, S("Subject: w\n\nwait\n"), 3) == 0,
	       "a held dotlock: begin, write and end do not lock");
	tap_ok(s->ops->prepare(s, &pl, &n, &err) == SINK_LOCKED,
	       "a held dotlock: prepare reports SINK_LOCKED");
	tap_str(err, want, "the error says who holds it");
	free(err);
	err = NULL;
	tap_ok(s->ops->commit(s, &err) == SINK_LOCKED,
	       "a held dotlock: commit (implying prepare) too");
	free(err);
	err = NULL;
	char *got = read_all(lock, &len);
	tap_ok(file_size(path) == sizeof(old) - 1 && got != NULL &&
		   strcmp(got, pid) == 0,
	       "nothing was written, the other's dotlock is left alone");
	free(got);
	s->ops->rollback(s);
	tap_ok(s->ops->commit(s, &err) == 0 && exists(lock),
	       "after rollback, commit of nothing is fine");
	unlink(lock);

	/* Another sink on the same file holds the fcntl lock: OFD locks
	 * exclude it even within one process. */
	sink_mbox_ops.open(NULL, path, 0, &other, &err);
	char *loc = deliver(other, S("Subject: o\n\nother\n"), 100);
	tap_ok(loc != NULL, "a second sink prepares a batch");
	free(loc);
	tap_ok(stage_meta(s, NULL, S("Subject: s\n\nmine\n"), 100) == 0 &&
		   s->ops->prepare(s, &pl, &n, &err) == SINK_LOCKED,
	       "a held fcntl lock: prepare reports SINK_LOCKED");
	tap_str(err, want, "with the same error");
	free(err);
	err = NULL;
	other->ops->rollback(other);
	tap_ok(s->ops->prepare(s, &pl, &n, &err) == 0 && n == 1,
	       "prepares once the other rolled back");
	tap_ok(s->ops->commit(s, &err) == 0 && !exists(lock), "and commits");
	got = read_all(path, &len);
	tap_ok(got != NULL && memmem(got, len, "mine", 4) != NULL &&
		   memmem(got, len, "other", 5) == NULL,
	       "only the committed batch is in the mbox");
	free(got);
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
	char *want = xasprintf("mbox %s: spool: %s", path, strerror(EFBIG));
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
		"abort after a write error leaves the mbox as it was");
	free(after);
	char *loc = deliver(s, S("Subject: next\n\nfine\n"), 100);
	tap_ok(loc != NULL && s->ops->commit(s, &err) == 0,
	       "the next message is delivered");
	after = read_all(path, &after_len);
	tap_ok(after_len > before_len && after_len < before_len + 100 &&
		   memmem(after, after_len, "\nSubject: next\n\nfine\n\n",
			  22) != NULL,
	       "and nothing of the failed one comes with it");
	free(loc);
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

/* ---- the batch's places, hashing, recovery ----------------------------- */

static const struct {
	const char *old;
	size_t old_len;
	unsigned sep; /* '\n' our first From_ line needs before it */
	const char *what;
} pcases[] = {
    {S(""), 0, "an empty mbox"},
    {S("From a Thu Jan  1 00:00:00 1970\nold\n\n"), 0, "a final blank line"},
    {S("From a Thu Jan  1 00:00:00 1970\nold\n"), 1, "one final newline"},
    {S("From a Thu Jan  1 00:00:00 1970\nold"), 2, "no final newline"},
    {S("x"), 2, "a one-byte file"},
};

/* prepare fixes the offsets, under the lock; commit puts the bytes there,
 * and the sizes and hashes say what they are. */
static void test_placed(const char *dir)
{
	for (size_t c = 0; c < sizeof(pcases) / sizeof(pcases[0]); c++) {
		char *path = xasprintf("%s/placed%zu", dir, c);
		const size_t old_len = pcases[c].old_len;
		const uint64_t from0 = old_len + pcases[c].sep;
		struct sink *s = NULL;
		struct sink_intent in[2];
		char *err = NULL, *what;
		size_t len;
		bool ok;

		write_file(path, pcases[c].old, old_len);
		sink_mbox_ops.open(NULL, path, 0, &s, &err);
		ok = stage_meta(s, NULL, msg1, sizeof(msg1) - 1, 7) == 0 &&
		     stage_meta(s, NULL, msg2, sizeof(msg2) - 1, 7) == 0;
		ok = ok && intents_from_placed(s, in, 2) == 2;
		char *want0 = xasprintf("mbox:%llu", (unsigned long long)from0);
		what = xasprintf("placed (%s): the first starts at the old "
				 "length, its From_ line after %u newline(s)",
				 pcases[c].what, pcases[c].sep);
		tap_ok(ok && in[0].start == old_len &&
			   strcmp(in[0].location, want0) == 0,
		       what);
		free(what);
		free(want0);
		uint64_t from1 = from0 + (ok ? in[0].disk_size : 0);
		char *want1 = xasprintf("mbox:%llu", (unsigned long long)from1);
		what = xasprintf("placed (%s): the second right after it",
				 pcases[c].what);
		tap_ok(ok && in[1].start == from1 &&
			   strcmp(in[1].location, want1) == 0,
		       what);
		free(what);
		free(want1);
		what = xasprintf("placed (%s): the mbox is untouched before "
				 "commit",
				 pcases[c].what);
		tap_ok(file_size(path) == (off_t)old_len, what);
		free(what);

		ok = ok && s->ops->commit(s, &err) == 0;
		char *got = read_all(path, &len);
		what = xasprintf("placed (%s): after commit, the old bytes, "
				 "the newlines, the two messages",
				 pcases[c].what);
		tap_ok(ok && got != NULL && len == from1 + in[1].disk_size &&
			   memcmp(got, pcases[c].old, old_len) == 0 &&
			   memcmp(got + old_len, "\n\n", pcases[c].sep) == 0 &&
			   got[len - 2] == '\n' && got[len - 1] == '\n',
		       what);
		free(what);
		for (size_t i = 0; ok && i < 2; i++) {
			uint64_t at = i == 0 ? from0 : from1;
			char hash[65];
			file_hash(path, at, (int64_t)in[i].disk_size, hash);
			what = xasprintf("placed (%s): message %zu: \"From \" "
					 "at its location, size and hash "
					 "match the disk",
					 pcases[c].what, i + 1);
			tap_ok(len >= at + 5 &&
				   memcmp(got + at, "From ", 5) == 0 &&
				   strcmp(hash, in[i].disk_hash) == 0 &&
				   strlen(hash) == 64,
			       what);
			free(what);
		}
		free(got);
		intents_clear(in, 2);
		s->ops->close(&s);
		free(path);
	}
}

static void test_hash_range(const char *dir)
{
	static const char empty[] =
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	static const char abc[] =
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static const struct {
		uint64_t off, len;
		const char *want; /* NULL: -1 with ENODATA */
		const char *what;
	} cases[] = {
	    {0, 3, abc, "\"abc\""},	  {3, 3, abc, "\"abc\" at an offset"},
	    {0, 0, empty, "nothing"},	  {6, 0, empty, "nothing, at the end"},
	    {4, 3, NULL, "past the end"}, {100, 1, NULL, "far past the end"},
	};
	char *path = xasprintf("%s/hashme", dir);
	char out[65];

	write_file(path, S("abcabc"));
	int fd = open(path, O_RDONLY);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *what = xasprintf("sink_hash_range: %s", cases[i].what);
		errno = 0;
		int r = sink_hash_range(fd, cases[i].off, cases[i].len, out);
		if (cases[i].want != NULL)
			tap_str(r == 0 ? out : NULL, cases[i].want, what);
		else
			tap_ok(r == -1 && errno == ENODATA, what);
		free(what);
	}
	close(fd);
	/* Across many reads: the standard million 'a's. */
	size_t n = 1000000;
	char *as = xmalloc(n);
	memset(as, 'a', n);
	write_file(path, as, n);
	file_hash(path, 0, (int64_t)n, out);
	tap_str(
	    out,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	    "sink_hash_range: a million 'a's");
	free(as);
	free(path);
}

/* Commits msg1 and msg2 into a new mbox at PATH after bytes without a
 * final newline, and fills IN[2] with their journal entries. */
static void journalled(const char *path, struct sink_intent in[2])
{
	struct sink *s = NULL;
	char *err = NULL;

	write_file(path, S("From a Thu Jan  1 00:00:00 1970\nold"));
	sink_mbox_ops.open(NULL, path, 0, &s, &err);
	if (stage_meta(s, NULL, msg1, sizeof(msg1) - 1, 100) != 0 ||
	    stage_meta(s, NULL, msg2, sizeof(msg2) - 1, 100) != 0 ||
	    intents_from_placed(s, in, 2) != 2 ||
	    s->ops->commit(s, &err) != 0) {
		printf("# journalled %s: %s\n", path, err);
		exit(99);
	}
	s->ops->close(&s);
}

/* What the crash (or someone after it) left of the batch. */
enum mb_op {
	MB_KEEP,	/* both messages whole */
	MB_CUT_LAST,	/* the file ends inside the second */
	MB_CUT_FIRST,	/* the file ends inside the first */
	MB_CUT_SEP,	/* only one of the newlines before the first */
	MB_FLIP_LAST,	/* a byte of the second differs */
	MB_CUT_FOREIGN, /* ends inside, but no From_ line where ours is */
	MB_SHORT,	/* shorter than where the batch started */
	MB_OTHER,	/* none of ours; another program's shorter message */
	MB_GONE,	/* no mbox at all */
};

/* The file's length after recovery: as the op left it, or cut back to
 * where a message's bytes start; NONE: no file. */
enum mb_len { MB_LEN_SAME, MB_LEN_START0, MB_LEN_START1, MB_LEN_NONE };

static const struct {
	const char *what;
	enum mb_op op;
	enum sink_found want[2];
	enum mb_len len;
} mcases[] = {
    {"both whole", MB_KEEP, {SINK_FOUND, SINK_FOUND}, MB_LEN_SAME},
    {"the file ends inside the last message",
     MB_CUT_LAST,
     {SINK_FOUND, SINK_ABSENT},
     MB_LEN_START1},
    {"the file ends inside the first message",
     MB_CUT_FIRST,
     {SINK_ABSENT, SINK_ABSENT},
     MB_LEN_START0},
    {"only a blank line was written",
     MB_CUT_SEP,
     {SINK_ABSENT, SINK_ABSENT},
     MB_LEN_START0},
    {"one byte of the last message differs",
     MB_FLIP_LAST,
     {SINK_FOUND, SINK_FOREIGN},
     MB_LEN_SAME},
    {"cut short, but not our From_ line",
     MB_CUT_FOREIGN,
     {SINK_FOUND, SINK_FOREIGN},
     MB_LEN_SAME},
    {"shorter than the batch's start",
     MB_SHORT,
     {SINK_ABSENT, SINK_ABSENT},
     MB_LEN_SAME},
    {"another program appended a shorter message where ours was to be",
     MB_OTHER,
     {SINK_FOREIGN, SINK_ABSENT},
     MB_LEN_SAME},
    {"the mbox is gone", MB_GONE, {SINK_ABSENT, SINK_ABSENT}, MB_LEN_NONE},
};

static void flip_byte(const char *path, uint64_t at)
{
	int fd = open(path, O_RDWR);
	char c = 0;
	if (fd < 0 || pread(fd, &c, 1, (off_t)at) != 1)
		exit(99);
	c ^= 0x01;
	if (pwrite(fd, &c, 1, (off_t)at) != 1 || close(fd) < 0)
		exit(99);
}

static void cut(const char *path, uint64_t len)
{
	if (truncate(path, (off_t)len) < 0) {
		perror(path);
		exit(99);
	}
}

static void apply_mb_op(const char *path, enum mb_op op,
			const struct sink_intent in[2])
{
	uint64_t from0 = in[0].start + 2, from1 = in[1].start;

	switch (op) {
	case MB_KEEP:
		break;
	case MB_CUT_LAST:
		cut(path, from1 + in[1].disk_size / 2);
		break;
	case MB_CUT_FIRST:
		cut(path, from0 + in[0].disk_size / 2);
		break;
	case MB_CUT_SEP:
		cut(path, in[0].start + 1);
		break;
	case MB_FLIP_LAST:
		flip_byte(path, from1 + in[1].disk_size / 2);
		break;
	case MB_CUT_FOREIGN:
		cut(path, from1 + in[1].disk_size / 2);
		flip_byte(path, from1);
		break;
	case MB_SHORT:
		cut(path, in[0].start - 1);
		break;
	case MB_OTHER: {
		/* A crash before the append; then an MDA delivered, with a
		 * well-formed From_ line where ours would have been. */
		static const char other[] =
		    "\n\nFrom other@example.org Mon Jan  2 03:04:05 2023\n"
		    "Subject: x\n\nshort\n\n";
		cut(path, in[0].start);
		int fd = open(path, O_WRONLY | O_APPEND);
		if (fd < 0 || write(fd, other, sizeof(other) - 1) !=
				  (ssize_t)(sizeof(other) - 1) ||
		    close(fd) < 0)
			exit(99);
		break;
	}
	case MB_GONE:
		unlink(path);
		break;
	}
}

static void test_recover(const char *dir)
{
	for (size_t c = 0; c < sizeof(mcases) / sizeof(mcases[0]); c++) {
		char *path = xasprintf("%s/recover%zu", dir, c);
		char *lock = xasprintf("%s.lock", path);
		struct sink_intent in[2];
		char *err = NULL;
		size_t before_len, after_len;

		journalled(path, in);
		apply_mb_op(path, mcases[c].op, in);
		char *before = read_all(path, &before_len);
		int r = sink_mbox_ops.recover(NULL, path, in, 2, &err);
		char *what = xasprintf("recover (%s): returns 0, no lock left",
				       mcases[c].what);
		tap_ok(r == 0 && !exists(lock), what);
		free(what);
		if (r != 0)
			printf("# %s\n", err);
		free(err);
		for (size_t i = 0; i < 2; i++) {
			bool foreign = mcases[c].want[i] == SINK_FOREIGN;
			what =
			    xasprintf("recover (%s): message %zu is %s",
				      mcases[c].what, i + 1,
				      mcases[c].want[i] == SINK_FOUND ? "found"
				      : foreign ? "foreign"
						: "absent");
			tap_ok(in[i].found == mcases[c].want[i] &&
				   (in[i].note != NULL) == foreign &&
				   in[i].moved_to == NULL,
			       what);
			if (in[i].note != NULL)
				printf("# %s\n", in[i].note);
			free(what);
		}
		char *after = read_all(path, &after_len);
		size_t want_len = mcases[c].len == MB_LEN_START0   ? in[0].start
				  : mcases[c].len == MB_LEN_START1 ? in[1].start
								   : before_len;
		what = xasprintf("recover (%s): %s", mcases[c].what,
				 mcases[c].len == MB_LEN_SAME
				     ? "the file is left as it was"
				 : mcases[c].len == MB_LEN_NONE
				     ? "no file is made"
				     : "cut back to where our bytes start");
		if (mcases[c].len == MB_LEN_NONE)
			tap_ok(after == NULL && !exists(path), what);
		else
			tap_ok(after != NULL && before != NULL &&
				   want_len <= before_len &&
				   after_len == want_len &&
				   memcmp(after, before, want_len) == 0,
			       what);
		free(what);
		free(after);
		free(before);
		intents_clear(in, 2);
		free(lock);
		free(path);
	}
}

/* recover takes the mbox's locks: held by another, it settles nothing. */
static void test_recover_locked(const char *dir)
{
	char *path = xasprintf("%s/recover-locked", dir);
	char *lock = xasprintf("%s.lock", path);
	char *want =
	    xasprintf("mbox %s: locked by another program (%s)", path, lock);
	struct sink_intent in[2];
	struct sink *other = NULL;
	char *err = NULL, pid[32];
	size_t before_len, len;

	journalled(path, in);
	char *before = read_all(path, &before_len);
	sink_mbox_ops.open(NULL, path, 0, &other, &err);
	char *loc = deliver(other, S("Subject: o\n\nother\n"), 100);
	tap_ok(loc != NULL && sink_mbox_ops.recover(NULL, path, in, 2, &err) ==
				  SINK_LOCKED,
	       "recover: another sink holds the lock: SINK_LOCKED");
	tap_str(err, want, "recover: the error says who holds it");
	free(err);
	err = NULL;
	tap_ok(in[0].found == SINKTEST_UNSET && in[1].found == SINKTEST_UNSET,
	       "recover: nothing is settled");
	free(loc);
	other->ops->rollback(other);
	other->ops->close(&other);

	snprintf(pid, sizeof(pid), "%ld\n", (long)getppid());
	write_file(lock, pid, strlen(pid));
	tap_ok(sink_mbox_ops.recover(NULL, path, in, 2, &err) == SINK_LOCKED,
	       "recover: a dotlock of a live process: SINK_LOCKED");
	free(err);
	err = NULL;
	char *got = read_all(lock, &len);
	char *after = read_all(path, &len);
	tap_ok(got != NULL && strcmp(got, pid) == 0 && after != NULL &&
		   len == before_len && memcmp(after, before, len) == 0,
	       "recover: the dotlock and the mbox are left alone");
	free(got);
	free(after);
	unlink(lock);

	free((char *)in[0].location);
	in[0].location = xstrdup("mbox:x12");
	tap_ok(sink_mbox_ops.recover(NULL, path, in, 1, &err) == -1 &&
		   err != NULL && strstr(err, "bad place \"mbox:x12\"") != NULL,
	       "recover: a journalled place that is no offset is an error");
	free(err);
	intents_clear(in, 2);
	free(before);
	free(want);
	free(lock);
	free(path);
}

/* ---- scan ------------------------------------------------------------- */

/* Delivers the N test messages T into the mbox PATH in two batches;
 * fills LOCS (N entries, caller frees each).  Returns success. */
static bool deliver_all(const char *path, const struct tmsg *t, size_t n,
			char **locs)
{
	struct sink *s = NULL;
	char *err = NULL;
	bool ok = sink_mbox_ops.open(NULL, path, 0, &s, &err) == 0;

	for (size_t i = 0; ok && i < n; i++) {
		locs[i] = deliver(s, t[i].p, t[i].len, t[i].chunk);
		ok = locs[i] != NULL;
		if (ok && i == n / 2)
			ok = s->ops->commit(s, &err) == 0;
	}
	ok = ok && s->ops->commit(s, &err) == 0;
	if (err != NULL)
		printf("# %s\n", err);
	free(err);
	if (s != NULL)
		s->ops->close(&s);
	return ok;
}

/* The bytes a scan gives for M: its own, with the newline the mbox adds
 * to a message that does not end in one (the mbox cannot tell them
 * apart).  Caller frees; length in *LEN_R. */
static char *as_read(const struct tmsg *m, size_t *len_r)
{
	bool add = m->len > 0 && m->p[m->len - 1] != '\n';
	char *p = xmalloc(m->len + 2);

	memcpy(p, m->p, m->len);
	if (add)
		p[m->len] = '\n';
	*len_r = m->len + add;
	return p;
}

static bool scan_matches(const struct scan_log *l, const struct tmsg *t,
			 char **locs, size_t n)
{
	bool ok = l->bad == 0 && l->n == n;

	for (size_t i = 0; ok && i < n; i++) {
		size_t len;
		char *want = as_read(&t[i], &len);
		ok = strcmp(l->m[i].loc, locs[i]) == 0 && l->m[i].len == len &&
		     memcmp(l->m[i].p, want, len) == 0;
		if (!ok)
			printf("# message %zu (%s): %s, %zu bytes\n", i,
			       t[i].what, l->m[i].loc, l->m[i].len);
		free(want);
	}
	return ok;
}

static void test_scan(const char *dir)
{
	char *path = xasprintf("%s/scan.mbox", dir);
	struct scan_log l = {0};
	size_t n;
	struct tmsg *t = tmsgs_new(&n);
	char **locs = xcalloc(n, sizeof(*locs));
	char *err = NULL;

	tap_ok(deliver_all(path, t, n, locs), "scan: test messages delivered");
	tap_ok(scan_into(&sink_mbox_ops, path, &l, NULL) == 0,
	       "scan: returns 0");
	tap_ok(scan_matches(&l, t, locs, n),
	       "scan: every message in order, its bytes as delivered, at "
	       "the location prepare gave");
	l.stop_at = 3;
	l.stop_ret = 42;
	tap_ok(scan_into(&sink_mbox_ops, path, &l, NULL) == 42 && l.n == 2 &&
		   l.bad == 0,
	       "scan: a callback's non-zero value stops it and is returned");
	l.stop_at = 0;

	char *gone = xasprintf("%s/never.mbox", dir);
	tap_ok(scan_into(&sink_mbox_ops, gone, &l, NULL) == 0 && l.n == 0 &&
		   access(gone, F_OK) < 0,
	       "scan: a missing mbox is empty, and is not created");
	free(gone);

	char *isdir = xasprintf("%s/adir.mbox", dir);
	mkdir(isdir, 0700);
	tap_ok(scan_into(&sink_mbox_ops, isdir, &l, &err) == -1 &&
		   err != NULL && strstr(err, isdir) != NULL,
	       "scan: a directory where the mbox should be is an error "
	       "naming it");
	printf("# %s\n", err != NULL ? err : "(no error)");
	free(err);
	free(isdir);

	scan_log_clear(&l);
	for (size_t i = 0; i < n; i++)
		free(locs[i]);
	free(locs);
	tmsgs_free(t, n);
	free(path);
}

/* mboxes as other tools write them. */
static const char foreign_mbox[] =
    "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n"
    "Subject: one\n\nbody one\n>From quoted\n>>From twice\n"
    "\n"
    "From user@host.example Mon Feb  3 04:05:06 2020\n"
    "Subject: two\n\nbody\nFrom not after a blank line\n\n"
    "\n"
    "From a@b  Sat Jan  3 01:05:34 1996\n"
    "\n"
    "From x@y Sat Jan  3 01:05:35 1996 remote from y\n"
    "Subject: four\n\ntail, no blank line after\n";

static const struct {
	const char *loc, *msg;
} foreign_want[] = {
    {"mbox:0", "Subject: one\n\nbody one\nFrom quoted\n>From twice\n"},
    {"mbox:94", "Subject: two\n\nbody\nFrom not after a blank line\n\n"},
    {"mbox:191", ""},
    {"mbox:227", "Subject: four\n\ntail, no blank line after\n"},
};

static void test_scan_foreign(const char *dir)
{
	char *path = xasprintf("%s/foreign.mbox", dir);
	struct scan_log l = {0};
	size_t nw = sizeof(foreign_want) / sizeof(foreign_want[0]);

	write_file(path, S(foreign_mbox));
	bool ok = scan_into(&sink_mbox_ops, path, &l, NULL) == 0 &&
		  l.bad == 0 && l.n == nw;
	for (size_t i = 0; ok && i < nw; i++) {
		ok = strcmp(l.m[i].loc, foreign_want[i].loc) == 0 &&
		     l.m[i].len == strlen(foreign_want[i].msg) &&
		     memcmp(l.m[i].p, foreign_want[i].msg, l.m[i].len) == 0;
		if (!ok)
			printf("# message %zu: %s, %zu bytes: %.*s\n", i,
			       l.m[i].loc, l.m[i].len, (int)l.m[i].len,
			       l.m[i].p);
	}
	tap_ok(ok, "scan: an mbox written by other tools (any From_ line, "
		   "mboxrd quoting, an empty message, no final blank line)");

	/* Text before the first From_ line is no message. */
	write_file(path, S("junk\nFrom no blank before\n\nFrom a b\nbody\n"));
	tap_ok(scan_into(&sink_mbox_ops, path, &l, NULL) == 0 && l.n == 1 &&
		   strcmp(l.m[0].loc, "mbox:27") == 0 && l.m[0].len == 5 &&
		   memcmp(l.m[0].p, "body\n", 5) == 0,
	       "scan: text before the first From_ line is skipped");
	scan_log_clear(&l);
	free(path);
}

/* ---- verify ----------------------------------------------------------- */

/* Verifies M (LEN bytes) at LOC in the mbox PATH; is the answer WANT,
 * with MOVED_TO and WHY as given (WHY: a substring; NULL = none)? */
static bool verify_is(const char *path, const char *loc, const char *m,
		      size_t len, enum sink_found want, const char *moved_to,
		      const char *why)
{
	struct verdict v = verify_msg(&sink_mbox_ops, path, loc, m, len);
	bool ok = v.ret == 0 && v.found == want && v.err == NULL &&
		  (moved_to == NULL ? v.moved_to == NULL
				    : v.moved_to != NULL &&
					  strcmp(v.moved_to, moved_to) == 0) &&
		  (why == NULL ? v.why == NULL
			       : v.why != NULL && strstr(v.why, why) != NULL);
	if (!ok || v.why != NULL)
		printf("# verify %s: ret %d found %d moved_to %s why %s err "
		       "%s\n",
		       loc, v.ret, (int)v.found, v.moved_to ? v.moved_to : "-",
		       v.why ? v.why : "-", v.err ? v.err : "-");
	verdict_clear(&v);
	return ok;
}

static uint64_t loc_off(const char *loc)
{
	return strtoull(loc + 5, NULL, 10);
}

static void test_verify(const char *dir)
{
	char *path = xasprintf("%s/verify.mbox", dir);
	size_t n;
	struct tmsg *t = tmsgs_new(&n);
	char **locs = xcalloc(n, sizeof(*locs));
	bool ok = deliver_all(path, t, n, locs);

	for (size_t i = 0; ok && i < n; i++)
		ok = verify_is(path, locs[i], t[i].p, t[i].len, SINK_FOUND,
			       NULL, NULL);
	tap_ok(ok, "verify: every delivered message (From_ lines, quoting, "
		   "no final newline, empty, NUL, CR, 5 MB) is found at its "
		   "offset");
	tap_ok(verify_is(path, locs[2], S("Subject: nl\n\nlast line\n"),
			 SINK_FOUND, NULL, NULL),
	       "verify: the same message with the newline the mbox added is "
	       "found too (the mbox cannot tell them apart)");
	tap_ok(verify_is(path, locs[1], t[2].p, t[2].len, SINK_FOUND, locs[2],
			 NULL),
	       "verify: a record whose offset holds another message: found "
	       "by its hash where it is");
	tap_ok(verify_is(path, locs[1], S("Subject: other\n\nnot there\n"),
			 SINK_ABSENT, NULL, "; not elsewhere in the mbox"),
	       "verify: a message in no place of the mbox is absent");

	/* A reader adds a Status: header to the second message: the later
	 * ones move 11 bytes on. */
	size_t len;
	char *old = read_all(path, &len);
	uint64_t o1 = loc_off(locs[1]);
	size_t head =
	    (size_t)((const char *)memchr(old + o1, '\n', len - o1) + 1 - old);
	struct buf nw = {0};
	buf_put(&nw, old, head);
	buf_put(&nw, "Status: RO\n", 11);
	buf_put(&nw, old + head, len - head);
	write_file(path, nw.p, nw.len);
	ok = verify_is(path, locs[0], t[0].p, t[0].len, SINK_FOUND, NULL, NULL);
	for (size_t i = 2; ok && i < n; i++) {
		char *want = xasprintf(
		    "mbox:%llu", (unsigned long long)(loc_off(locs[i]) + 11));
		ok = verify_is(path, locs[i], t[i].p, t[i].len, SINK_FOUND,
			       want, NULL);
		free(want);
	}
	tap_ok(ok, "verify: after a Status: header was added, the messages "
		   "before are found in place, those after at their new "
		   "offsets, in moved_to");
	/* The size read counts the newline the mbox added. */
	size_t read_len;
	free(as_read(&t[1], &read_len));
	char *why = xasprintf("%s: %zu bytes, %zu recorded; not elsewhere",
			      locs[1], read_len + 11, t[1].len);
	tap_ok(
	    verify_is(path, locs[1], t[1].p, t[1].len, SINK_ABSENT, NULL, why),
	    "verify: the message given a Status: header is absent, why "
	    "gives both sizes");
	free(why);

	/* A reader removes the first message. */
	write_file(path, old + o1, len - o1);
	ok = true;
	for (size_t i = 1; ok && i < n; i++) {
		char *want = xasprintf(
		    "mbox:%llu", (unsigned long long)(loc_off(locs[i]) - o1));
		ok = verify_is(path, locs[i], t[i].p, t[i].len, SINK_FOUND,
			       want, NULL);
		free(want);
	}
	tap_ok(ok, "verify: after the first message was removed, each later "
		   "one is found at its new offset, in moved_to");
	tap_ok(verify_is(path, locs[0], t[0].p, t[0].len, SINK_ABSENT, NULL,
			 "; not elsewhere in the mbox"),
	       "verify: the removed message is absent");

	/* One byte of the big message changed, the file as it was. */
	write_file(path, old, len);
	uint64_t ob = loc_off(locs[n - 1]);
	old[ob + (len - ob) / 2] ^= 0x01;
	write_file(path, old, len);
	why = xasprintf("%s: content differs; not elsewhere", locs[n - 1]);
	tap_ok(verify_is(path, locs[n - 1], t[n - 1].p, t[n - 1].len,
			 SINK_ABSENT, NULL, why),
	       "verify: one byte changed in a 5 MB message: content differs");
	free(why);
	tap_ok(verify_is(path, "mbox:1", t[0].p, t[0].len, SINK_FOUND, locs[0],
			 NULL),
	       "verify: a recorded offset inside a message: found by its "
	       "hash at the right one");
	tap_ok(verify_is(path, "mbox:99999999", t[3].p, t[3].len, SINK_FOUND,
			 locs[3], NULL),
	       "verify: an offset past the end: found by its hash");
	tap_ok(verify_is(path, "mbox:1x", t[0].p, t[0].len, SINK_ABSENT, NULL,
			 "not an mbox location"),
	       "verify: a bad location is absent, not a crash");

	char *gone = xasprintf("%s/never.mbox", dir);
	tap_ok(verify_is(gone, locs[0], t[0].p, t[0].len, SINK_ABSENT, NULL,
			 "missing") &&
		   access(gone, F_OK) < 0,
	       "verify: a missing mbox: missing, and not created");
	free(gone);
	char *isdir = xasprintf("%s/vdir.mbox", dir);
	mkdir(isdir, 0700);
	struct verdict v = verify_msg(&sink_mbox_ops, isdir, "mbox:0", S("x"));
	tap_ok(v.ret == -1 && v.err != NULL && strstr(v.err, isdir) != NULL,
	       "verify: an unreadable mbox is an error naming it");
	verdict_clear(&v);
	free(isdir);
	if (geteuid() == 0) {
		tap_ok(1, "verify: mode 0000 mbox # SKIP root reads it anyway");
	} else {
		chmod(path, 0);
		v = verify_msg(&sink_mbox_ops, path, locs[0], t[0].p, t[0].len);
		tap_ok(v.ret == -1 && v.err != NULL &&
			   strstr(v.err, path) != NULL &&
			   strstr(v.err, "Permission denied") != NULL,
		       "verify: a mode 0000 mbox is an error naming it");
		verdict_clear(&v);
		chmod(path, 0600);
	}
	free(nw.p);
	free(old);
	for (size_t i = 0; i < n; i++)
		free(locs[i]);
	free(locs);
	tmsgs_free(t, n);
	free(path);
}

int main(void)
{
	char *dir = make_tmpdir();

	test_quote_table();
	test_quote_cuts();
	test_quote_long_lines();
	test_quote_round_trip();
	test_quote_random();
	test_from_line();
	test_sender();
	test_run(dir);
	test_abort(dir);
	test_rollback(dir);
	test_failed_commit(dir);
	test_separator(dir);
	test_empty_message(dir);
	test_big_header(dir);
	test_locked(dir);
	test_stale_dotlock(dir);
	test_write_error(dir);
	test_replaced(dir);
	test_open_errors(dir);
	test_meta_date(dir);
	test_placed(dir);
	test_hash_range(dir);
	test_recover(dir);
	test_recover_locked(dir);
	test_scan(dir);
	test_scan_foreign(dir);
	test_verify(dir);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return tap_done();
}
