/* SPDX-License-Identifier: ISC */
/* Unit tests for the Maildir sink: unique names, the no-replace move, and
 * whole runs against a temporary Maildir (commit, abort, rollback, write
 * errors, flags into cur/, dates, the maildirfolder marker, places fixed
 * at prepare, the account tag and its tmp/ sweep, recovery, scan and
 * verify). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sink_maildir.h"
#include "sinktest.h"
#include "tap.h"
#include "util.h"

#define S(x) x, sizeof(x) - 1

/* ---- helpers ---------------------------------------------------------- */

/* Number of entries in DIR, "." and ".." aside; -1 if it cannot be read. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int count_in(const char *md, const char *sub)
{
	char *p = xasprintf("%s/%s", md, sub);
	int n = count_entries(p);
	free(p);
	return n;
}

static bool is_dir_0700(const char *md, const char *sub)
{
	char *p = xasprintf("%s/%s", md, sub);
	struct stat st;
	bool ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
		  (st.st_mode & 0777) == 0700;
	free(p);
	return ok;
}

/* ---- names ------------------------------------------------------------ */

static void test_names(void)
{
	char buf[256];

	tap_ok(sink_maildir_name(buf, sizeof(buf), 1700000000, 123456, 4242, 7,
				 "0123456789abcdef", "mx.example.org") == 0,
	       "name: fits");
	tap_str(buf,
		"1700000000.M123456P4242Q7R0123456789abcdef.mx.example.org",
		"name: SEC.M<usec>P<pid>Q<n>R<hex>.<host>");
	sink_maildir_name(buf, sizeof(buf), 5, 0, 1, 0, "ff", "a/b:c");
	tap_str(buf, "5.M0P1Q0Rff.a\\057b\\072c", "name: host sanitized");
	tap_ok(sink_maildir_name(buf, 20, 1700000000, 123456, 4242, 7,
				 "0123456789abcdef", "h") == -1,
	       "name: too small a buffer is refused");

	static const struct {
		const char *host, *want;
	} hosts[] = {
	    {"plain.example", "plain.example"},
	    {"a/b", "a\\057b"},
	    {"a:b", "a\\072b"},
	    {"//::", "\\057\\057\\072\\072"},
	    {"", ""},
	};
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		char *what = xasprintf("host \"%s\"", hosts[i].host);
		int r = sink_maildir_host(buf, sizeof(buf), hosts[i].host);
		tap_str(r == 0 ? buf : NULL, hosts[i].want, what);
		free(what);
	}
	tap_ok(sink_maildir_host(buf, 4, "a/b") == -1,
	       "host: an escape that does not fit is refused");
	tap_ok(sink_maildir_host(buf, 4, "abc") == 0 && strcmp(buf, "abc") == 0,
	       "host: exactly fitting");
	tap_ok(sink_maildir_host(buf, 3, "abc") == -1, "host: one too long");
}

/* ---- the no-replace move ---------------------------------------------- */

static void test_noreplace(const char *dir)
{
	char *md = xasprintf("%s/noreplace", dir);
	char *a = xasprintf("%s/tmp/a", md), *b = xasprintf("%s/new/b", md);
	char *c = xasprintf("%s/new/c", md);
	struct sink *s = NULL;
	char *err = NULL;
	size_t len;

	sink_maildir_ops.open(NULL, md, 0, &s, &err);
	s->ops->close(&s);
	write_file(a, S("new message"));
	write_file(b, S("existing message"));
	int dirfd = open(md, O_RDONLY | O_DIRECTORY);
	errno = 0;
	tap_ok(sink_maildir_move_noreplace(dirfd, "tmp/a", "new/b") == -1 &&
		   errno == EEXIST,
	       "move onto an existing name fails with EEXIST");
	char *got = read_all(b, &len);
	tap_mem(got, len, S("existing message"), "the existing file is kept");
	free(got);
	tap_ok(access(a, F_OK) == 0, "the source is still in tmp/");
	tap_ok(sink_maildir_move_noreplace(dirfd, "tmp/a", "new/c") == 0,
	       "move onto a free name");
	got = read_all(c, &len);
	tap_mem(got, len, S("new message"), "lands with its bytes");
	free(got);
	tap_ok(access(a, F_OK) < 0 && errno == ENOENT, "and leaves tmp/");
	close(dirfd);
	free(a);
	free(b);
	free(c);
	free(md);
}

/* ---- whole sink runs -------------------------------------------------- */

static void test_open(const char *dir)
{
	char *md = xasprintf("%s/a/b/Maildir", dir);
	struct sink *s = NULL;
	char *err = NULL;

	tap_ok(sink_maildir_ops.open(NULL, md, 0, &s, &err) == 0 && s != NULL,
	       "open creates a missing Maildir and its parents");
	tap_ok(is_dir_0700(md, ".") && is_dir_0700(md, "cur") &&
		   is_dir_0700(md, "new") && is_dir_0700(md, "tmp"),
	       "with cur/ new/ tmp/, mode 0700");
	tap_ok(is_dir_0700(dir, "a") && is_dir_0700(dir, "a/b"),
	       "the parents it creates are 0700");
	tap_ok(count_entries(md) == 3, "no maildirfolder without the flag");
	s->ops->close(&s);
	tap_ok(s == NULL, "close sets the sink to NULL");

	char *tmp = xasprintf("%s/tmp", md);
	rmdir(tmp);
	tap_ok(sink_maildir_ops.open(NULL, md, 0, &s, &err) == 0 &&
		   is_dir_0700(md, "tmp"),
	       "open restores a missing tmp/");
	s->ops->close(&s);
	rmdir(tmp);
	write_file(tmp, S("not a directory"));
	char *want = xasprintf("maildir %s: tmp/: Not a directory", md);
	tap_ok(sink_maildir_ops.open(NULL, md, 0, &s, &err) == -1 && s == NULL,
	       "open refuses a tmp/ that is a file");
	tap_str(err, want, "the error names the path and the cause");
	free(err);
	free(want);
	unlink(tmp);
	free(tmp);

	char *file = xasprintf("%s/file", dir);
	write_file(file, S("x"));
	want = xasprintf("maildir %s: create: Not a directory", file);
	tap_ok(sink_maildir_ops.open(NULL, file, 0, &s, &err) == -1,
	       "open refuses a path that is a file");
	tap_str(err, want, "with a clear error");
	free(err);
	free(want);
	free(file);
	free(md);
}

/* Does LOC (relative to the Maildir) hold exactly MSG, and does LOC end
 * in ",S=<len>" followed by INFO (":2,FLAGS" or "")? */
static bool check_delivered_info(const char *md, const char *loc,
				 const char *msg, size_t len, const char *info)
{
	char *path = xasprintf("%s/%s", md, loc);
	char *suffix = xasprintf(",S=%zu%s", len, info);
	size_t got_len;
	char *got = read_all(path, &got_len);
	struct stat st;
	bool ok = got != NULL && got_len == len && memcmp(got, msg, len) == 0 &&
		  stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 &&
		  strlen(loc) > strlen(suffix) &&
		  strcmp(loc + strlen(loc) - strlen(suffix), suffix) == 0;
	free(got);
	free(suffix);
	free(path);
	return ok;
}

/* Is LOC a message under new/ holding exactly MSG? */
static bool check_delivered(const char *md, const char *loc, const char *msg,
			    size_t len)
{
	return strncmp(loc, "new/", 4) == 0 && strchr(loc + 4, '/') == NULL &&
	       check_delivered_info(md, loc, msg, len, "");
}

static void test_run(const char *dir)
{
	char *md = xasprintf("%s/run", dir);
	struct sink *s = NULL;
	char *err = NULL;
	size_t big_len = 200 * 1024 + 7;
	char *big = xmalloc(big_len);
	static const struct {
		const char *msg;
		size_t len;
		size_t chunk;
	} msgs[] = {
	    {S("Subject: a\n\nFrom x\nbody\n"), 3},
	    {S("Subject: b\n\nNUL:\0:\0\nno final newline"), 1},
	    {S(""), 1},
	};
	char *locs[4];

	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)(i * 7 + i / 1000);
	sink_maildir_ops.open(NULL, md, 0, &s, &err);
	for (size_t i = 0; i < 3; i++)
		locs[i] = deliver(s, msgs[i].msg, msgs[i].len, msgs[i].chunk);
	locs[3] = deliver(s, big, big_len, 65536 + 13);
	tap_ok(count_in(md, "tmp") == 4 && count_in(md, "new") == 0,
	       "before commit the four prepared messages wait in tmp/");
	tap_ok(s->ops->commit(s, &err) == 0, "commit four messages");
	bool ok = true;
	for (size_t i = 0; i < 3; i++)
		ok = ok && locs[i] != NULL &&
		     check_delivered(md, locs[i], msgs[i].msg, msgs[i].len);
	tap_ok(ok, "small messages land in new/ byte for byte, ,S= right");
	tap_ok(locs[3] != NULL && check_delivered(md, locs[3], big, big_len),
	       "a 200 KB message lands byte for byte");
	tap_ok(count_in(md, "new") == 4 && count_in(md, "tmp") == 0,
	       "new/ holds four files, tmp/ none");
	char *pid = xasprintf("P%ldQ", (long)getpid());
	tap_ok(locs[0] != NULL && strstr(locs[0], ".M") != NULL &&
		   strstr(locs[0], pid) != NULL,
	       "the name has the usec and pid parts");
	tap_ok(locs[0] && locs[1] && locs[2] && strcmp(locs[0], locs[1]) &&
		   strcmp(locs[1], locs[2]) && strcmp(locs[0], locs[2]),
	       "names are unique");
	free(pid);
	for (size_t i = 0; i < 4; i++)
		free(locs[i]);
	s->ops->close(&s);
	tap_ok(count_in(md, "new") == 4, "close keeps committed messages");
	free(big);
	free(md);
}

static void test_abort_rollback(const char *dir)
{
	char *md = xasprintf("%s/abort", dir);
	struct sink *s = NULL;
	char *err = NULL;

	sink_maildir_ops.open(NULL, md, 0, &s, &err);
	tap_ok(s->ops->begin(s, NULL, &err) == 0 &&
		   s->ops->write(s, S("Subject: x\n\npartial"), &err) == 0,
	       "a message in progress");
	tap_ok(count_in(md, "tmp") == 1, "is written in tmp/");
	s->ops->abort(s);
	tap_ok(count_in(md, "tmp") == 0 && count_in(md, "new") == 0,
	       "abort leaves tmp/ and new/ empty");

	char *kept = deliver(s, S("Subject: kept\n\n"), 4);
	s->ops->commit(s, &err);
	char *l1 = deliver(s, S("Subject: one\n\n"), 4);
	char *l2 = deliver(s, S("Subject: two\n\n"), 4);
	tap_ok(l1 && l2 && count_in(md, "new") == 1 && count_in(md, "tmp") == 2,
	       "two more prepared, in tmp/");
	s->ops->rollback(s);
	tap_ok(count_in(md, "new") == 1 && count_in(md, "tmp") == 0 &&
		   check_delivered(md, kept, S("Subject: kept\n\n")),
	       "rollback removes only the uncommitted, from tmp/");
	free(l1);
	free(l2);

	l1 = deliver(s, S("Subject: three\n\n"), 4);
	tap_ok(s->ops->begin(s, NULL, &err) == 0 &&
		   s->ops->write(s, S("Subject: four"), &err) == 0,
	       "one ended and one in progress");
	s->ops->close(&s);
	tap_ok(count_in(md, "new") == 1 && count_in(md, "tmp") == 0,
	       "close rolls both back");
	free(l1);
	free(kept);
	free(md);
}

/* Two sinks on one Maildir, interleaved: no name is ever shared. */
static void test_two_sinks(const char *dir)
{
	char *md = xasprintf("%s/two", dir);
	struct sink *a = NULL, *b = NULL;
	char *err = NULL;
	bool ok = true;

	sink_maildir_ops.open(NULL, md, 0, &a, &err);
	sink_maildir_ops.open(NULL, md, 0, &b, &err);
	for (int i = 0; i < 50; i++) {
		char *la = deliver(a, S("a\n"), 1);
		char *lb = deliver(b, S("b\n"), 1);
		ok = ok && la && lb && strcmp(la, lb) != 0;
		free(la);
		free(lb);
	}
	ok = ok && a->ops->commit(a, &err) == 0 && b->ops->commit(b, &err) == 0;
	tap_ok(ok && count_in(md, "new") == 100,
	       "two sinks, 100 messages, 100 files");
	a->ops->close(&a);
	b->ops->close(&b);
	free(md);
}

/* A failing write (EFBIG, standing in for a full disk) is reported with
 * the file, and abort leaves nothing behind. */
static void test_write_error(const char *dir)
{
	char *md = xasprintf("%s/full", dir);
	struct sink *s = NULL;
	char *err = NULL;
	size_t n = 64 * 1024;
	char *chunk = xmalloc(n);
	struct rlimit saved, lim;

	memset(chunk, 'z', n);
	sink_maildir_ops.open(NULL, md, 0, &s, &err);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &saved);
	lim = saved;
	lim.rlim_cur = 100 * 1024;
	setrlimit(RLIMIT_FSIZE, &lim);
	int r = s->ops->begin(s, NULL, &err);
	for (int i = 0; i < 5 && r == 0; i++)
		r = s->ops->write(s, chunk, n, &err);
	if (r == 0)
		r = s->ops->end(s, &err);
	setrlimit(RLIMIT_FSIZE, &saved);
	tap_ok(r == -1, "a write past the file size limit fails");
	char *want = xasprintf("maildir %s: write tmp/", md);
	tap_ok(err != NULL && strncmp(err, want, strlen(want)) == 0 &&
		   strstr(err, strerror(EFBIG)) != NULL,
	       "the error names the file and the cause");
	if (err != NULL)
		printf("# %s\n", err);
	free(err);
	s->ops->abort(s);
	tap_ok(count_in(md, "tmp") == 0 && count_in(md, "new") == 0,
	       "abort after a write error leaves nothing");
	s->ops->close(&s);
	free(want);
	free(chunk);
	free(md);
}

/* ---- meta: flags, dates, the maildirfolder marker --------------------- */

/* Do the mtime and atime of LOC (relative to MD) equal T? */
static bool has_date(const char *md, const char *loc, time_t t)
{
	char *path = xasprintf("%s/%s", md, loc);
	struct stat st;
	bool ok = stat(path, &st) == 0 && st.st_mtime == t && st.st_atime == t;
	free(path);
	return ok;
}

/* Is LOC "SUB/<one name, no '/'>"? */
static bool is_under(const char *loc, const char *sub)
{
	size_t n = strlen(sub);
	return loc != NULL && strncmp(loc, sub, n) == 0 && loc[n] == '/' &&
	       strchr(loc + n + 1, '/') == NULL;
}

static void test_flags(const char *dir)
{
	char *md = xasprintf("%s/flags", dir);
	struct sink *s = NULL;
	char *err = NULL;
	const struct sink_meta seen = {.date = 1600000000, .flags = "FS"};
	const struct sink_meta none = {.date = 1500000000, .flags = ""};

	sink_maildir_ops.open(NULL, md, 0, &s, &err);
	char *l1 = deliver_meta(s, &seen, S("Subject: seen\n\n"), 3);
	char *l2 = deliver_meta(s, &none, S("Subject: unseen\n\n"), 3);
	tap_ok(s->ops->commit(s, &err) == 0,
	       "flags: commit into cur/ and new/");
	/* Before anything reads the files, which may move their atime. */
	tap_ok(l1 && has_date(md, l1, 1600000000),
	       "date: mtime and atime of a cur/ message");
	tap_ok(l2 && has_date(md, l2, 1500000000),
	       "date: mtime and atime of a new/ message");
	bool ok = is_under(l1, "cur") &&
		  check_delivered_info(md, l1, S("Subject: seen\n\n"), ":2,FS");
	tap_ok(ok, "flags \"FS\": cur/NAME,S=<size>:2,FS, byte for byte");
	tap_ok(l2 != NULL && check_delivered(md, l2, S("Subject: unseen\n\n")),
	       "flags \"\": new/NAME,S=<size>");
	tap_ok(count_in(md, "cur") == 1 && count_in(md, "new") == 1 &&
		   count_in(md, "tmp") == 0,
	       "flags: one file in cur/, one in new/, none in tmp/");
	free(l1);
	free(l2);

	const struct sink_meta all = {.flags = "DFPRST"};
	time_t t0 = time(NULL);
	l1 = deliver_meta(s, &all, S("x\n"), 1);
	s->ops->commit(s, &err);
	struct stat st;
	char *path = l1 ? xasprintf("%s/%s", md, l1) : xstrdup("");
	tap_ok(l1 && stat(path, &st) == 0 && st.st_mtime >= t0 &&
		   st.st_mtime <= time(NULL),
	       "date 0: the mtime is now");
	tap_ok(l1 && strstr(l1, ":2,DFPRST") != NULL &&
		   strcmp(l1 + strlen(l1) - 9, ":2,DFPRST") == 0,
	       "all six standard flags, in order");
	free(path);
	free(l1);
	s->ops->close(&s);
	free(md);
}

static void test_bad_flags(const char *dir)
{
	static const char *const bad[] = {
	    "SF", "SS", "S/", "../x", "F S", "1", "\xc3\xa9", ":2,S",
	};
	char *md = xasprintf("%s/badflags", dir);
	struct sink *s = NULL;
	char *err = NULL;

	sink_maildir_ops.open(NULL, md, 0, &s, &err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct sink_meta meta = {.flags = bad[i]};
		char *what = xasprintf("bad flags \"%s\" refused", bad[i]);
		char *want = xasprintf("maildir %s: begin: bad flags \"%s\"",
				       md, bad[i]);
		err = NULL;
		tap_ok(s->ops->begin(s, &meta, &err) == -1 && err != NULL &&
			   strncmp(err, want, strlen(want)) == 0 &&
			   count_in(md, "tmp") == 0,
		       what);
		free(err);
		free(want);
		free(what);
	}
	err = NULL;
	const struct sink_meta kw = {.flags = "Sa"};
	char *l = deliver_meta(s, &kw, S("k\n"), 1);
	tap_ok(is_under(l, "cur") && strcmp(l + strlen(l) - 5, ":2,Sa") == 0,
	       "a lowercase keyword letter after the uppercase ones");
	free(l);
	s->ops->close(&s);
	tap_ok(count_in(md, "cur") == 0 && count_in(md, "tmp") == 0,
	       "close rolls back the message bound for cur/");
	free(md);
}

static void test_rollback_cur(const char *dir)
{
	char *md = xasprintf("%s/rollcur", dir);
	struct sink *s = NULL;
	char *err = NULL;
	const struct sink_meta seen = {.flags = "S"};

	sink_maildir_ops.open(NULL, md, 0, &s, &err);
	char *kept = deliver_meta(s, &seen, S("Subject: kept\n\n"), 4);
	s->ops->commit(s, &err);
	char *l1 = deliver_meta(s, &seen, S("Subject: one\n\n"), 4);
	char *l2 = deliver(s, S("Subject: two\n\n"), 4);
	tap_ok(l1 && l2 && count_in(md, "cur") == 1 &&
		   count_in(md, "new") == 0 && count_in(md, "tmp") == 2,
	       "rollback cur/: one for cur/ and one for new/ prepared");
	s->ops->rollback(s);
	bool ok = kept != NULL && check_delivered_info(
				      md, kept, S("Subject: kept\n\n"), ":2,S");
	tap_ok(ok && count_in(md, "cur") == 1 && count_in(md, "new") == 0,
	       "rollback removes the uncommitted from cur/ and new/ only");
	free(l1);
	free(l2);
	tap_ok(s->ops->begin(s, &seen, &err) == 0 &&
		   s->ops->write(s, S("Subject: three"), &err) == 0,
	       "a flagged message in progress");
	s->ops->abort(s);
	tap_ok(count_in(md, "tmp") == 0 && count_in(md, "cur") == 1,
	       "abort leaves tmp/ and cur/ as they were");
	s->ops->close(&s);
	free(kept);
	free(md);
}

/* Is MD/maildirfolder an empty regular file? */
static bool has_marker(const char *md)
{
	char *p = xasprintf("%s/maildirfolder", md);
	struct stat st;
	bool ok = lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0;
	free(p);
	return ok;
}

static void test_marker(const char *dir)
{
	const unsigned mf = SINK_OPEN_MAILDIRFOLDER;
	char *md = xasprintf("%s/pp/.Lists.dev", dir);
	struct sink *s = NULL;
	char *err = NULL;

	int r = sink_maildir_ops.open(NULL, md, mf, &s, &err);
	tap_ok(r == 0, "maildirfolder: open a new Maildir++ subfolder");
	tap_ok(has_marker(md) && is_dir_0700(md, "cur"),
	       "maildirfolder: an empty marker file beside cur/ new/ tmp/");
	s->ops->close(&s);
	r = sink_maildir_ops.open(NULL, md, mf, &s, &err);
	tap_ok(r == 0 && has_marker(md), "maildirfolder: reopening keeps it");
	s->ops->close(&s);

	char *old = xasprintf("%s/pp/.Old", dir);
	sink_maildir_ops.open(NULL, old, 0, &s, &err);
	s->ops->close(&s);
	tap_ok(!has_marker(old), "an existing folder opened without the flag");
	r = sink_maildir_ops.open(NULL, old, mf, &s, &err);
	tap_ok(r == 0 && has_marker(old),
	       "maildirfolder: added to an existing Maildir");
	s->ops->close(&s);

	char *bad = xasprintf("%s/pp/.Bad", dir);
	char *marker = xasprintf("%s/maildirfolder", bad);
	util_mkdir_p(marker, 0700);
	err = NULL;
	char *want = xasprintf("maildir %s: maildirfolder: ", bad);
	r = sink_maildir_ops.open(NULL, bad, mf, &s, &err);
	tap_ok(r == -1 && err != NULL && strncmp(err, want, strlen(want)) == 0,
	       "maildirfolder: a directory in its place is an error");
	free(err);
	free(want);
	free(marker);
	free(bad);
	free(old);
	free(md);
}

/* ---- the batch: places fixed at prepare, the account, recovery -------- */

/* prepare fixes each message's place; commit puts it exactly there. */
static void test_placed(const char *dir)
{
	static const struct {
		const char *msg;
		size_t len;
		const char *flags, *sub, *info;
	} msgs[] = {
	    {S("Subject: p1\n\none\n"), NULL, "new", ""},
	    {S("Subject: p2\n\n"), "S", "cur", ":2,S"},
	    {S("Subject: p3\n\nthree"), "", "new", ""},
	    {S("Subject: p4\n\nfour\n"), "FR", "cur", ":2,FR"},
	};
	enum { N_MSGS = sizeof(msgs) / sizeof(msgs[0]) };
	char *md = xasprintf("%s/placed", dir);
	struct sink *s = NULL;
	char *err = NULL, *locs[N_MSGS] = {NULL};
	const struct sink_placed *pl = NULL;
	size_t n = 0;
	bool ok = true;

	sink_maildir_ops.open(NULL, md, 0, &s, &err);
	for (size_t i = 0; i + 1 < N_MSGS; i++) {
		const struct sink_meta meta = {.flags = msgs[i].flags};
		ok = ok &&
		     stage_meta(s, &meta, msgs[i].msg, msgs[i].len, 3) == 0;
	}
	tap_ok(ok && s->ops->prepare(s, &pl, &n, &err) == 0 && n == N_MSGS - 1,
	       "placed: prepare places every staged message");
	for (size_t i = 0; i < n && i + 1 < N_MSGS; i++) {
		locs[i] = xstrdup(pl[i].location);
		char *path = xasprintf("%s/%s", md, locs[i]);
		ok = ok && is_under(locs[i], msgs[i].sub) &&
		     pl[i].disk_size == msgs[i].len &&
		     pl[i].disk_hash[0] == '\0' && pl[i].start == 0 &&
		     access(path, F_OK) < 0;
		free(path);
	}
	tap_ok(ok, "placed: new/ or cur/ names with the size, not there yet");
	const struct sink_meta last = {.flags = msgs[N_MSGS - 1].flags};
	ok = stage_meta(s, &last, msgs[N_MSGS - 1].msg, msgs[N_MSGS - 1].len,
			5) == 0 &&
	     s->ops->prepare(s, &pl, &n, &err) == 0 && n == N_MSGS;
	for (size_t i = 0; ok && i + 1 < N_MSGS; i++)
		ok = strcmp(pl[i].location, locs[i]) == 0;
	if (ok)
		locs[N_MSGS - 1] = xstrdup(pl[N_MSGS - 1].location);
	tap_ok(ok, "placed: prepare again after one more keeps the places");
	tap_ok(count_in(md, "tmp") == N_MSGS && count_in(md, "new") == 0 &&
		   count_in(md, "cur") == 0,
	       "placed: all four wait in tmp/");
	tap_ok(s->ops->commit(s, &err) == 0, "placed: commit");
	ok = true;
	for (size_t i = 0; i < N_MSGS; i++)
		ok = ok && locs[i] != NULL &&
		     check_delivered_info(md, locs[i], msgs[i].msg, msgs[i].len,
					  msgs[i].info);
	tap_ok(ok, "placed: commit moves each exactly to its place");
	tap_ok(count_in(md, "tmp") == 0 && count_in(md, "new") == 2 &&
		   count_in(md, "cur") == 2,
	       "placed: tmp/ is empty, nothing else was made");
	tap_ok(s->ops->prepare(s, &pl, &n, &err) == 0 && n == 0,
	       "placed: after commit prepare places nothing");
	s->ops->close(&s);
	for (size_t i = 0; i < N_MSGS; i++)
		free(locs[i]);
	free(md);
}

/* Returns the unique part of the Maildir name in LOC ("SUB/SEC.UNIQUE.
 * HOST..."): caller frees; "" if there is none. */
static char *unique_part(const char *loc)
{
	const char *base = strrchr(loc, '/');
	const char *u = strchr(base != NULL ? base + 1 : loc, '.');
	const char *e = u != NULL ? strchr(u + 1, '.') : NULL;

	if (e == NULL)
		return xstrdup("");
	return xasprintf("%.*s", (int)(e - u - 1), u + 1);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), k = strlen(tail);
	return n >= k && strcmp(s + n - k, tail) == 0;
}

/* Files left in tmp/ by a crash, and whether an account "abc" (tag
 * ba7816bf8f01, the start of SHA-256("abc")) takes them for its own. */
static const struct {
	const char *name;
	bool ours;
} leftovers[] = {
    {"1700000000.M1P2Q3R0011223344556677Aba7816bf8f01.host", true},
    {"1700000000.M1P2Q3R0011223344556677Aba7816bf8f01.a\\057b", true},
    {"1700000000.M1P2Q3R0011223344556677A0123456789ab.host", false},
    {"1700000000.M1P2Q3R0011223344556677.host", false},
    {"1700000000.M1P2Q3R0011223344556677ba7816bf8f01.host", false},
    {"1700000000.M1P2Q3R00.Aba7816bf8f01", false},
    {"1700000000.Aba7816bf8f01", false},
    {"junk", false},
};
#define N_LEFTOVERS (sizeof(leftovers) / sizeof(leftovers[0]))

static void plant_leftovers(const char *md)
{
	for (size_t i = 0; i < N_LEFTOVERS; i++) {
		char *p = xasprintf("%s/tmp/%s", md, leftovers[i].name);
		write_file(p, S("left over"));
		free(p);
	}
}

/* Are exactly the leftovers others' (or, with ALL, every one) there? */
static bool leftovers_kept(const char *md, bool all)
{
	bool ok = true;

	for (size_t i = 0; i < N_LEFTOVERS; i++) {
		char *p = xasprintf("%s/tmp/%s", md, leftovers[i].name);
		bool there = access(p, F_OK) == 0;
		if (there != (all || !leftovers[i].ours)) {
			printf("# tmp/%s %s\n", leftovers[i].name,
			       there ? "kept" : "removed");
			ok = false;
		}
		free(p);
	}
	return ok;
}

static void test_account(const char *dir)
{
	struct conf_account acct = {.name = "abc"};
	char tag[SINK_TAG_LEN + 1];
	char *md = xasprintf("%s/account", dir);
	struct sink *s = NULL;
	char *err = NULL;

	sink_account_tag(&acct, tag);
	tap_str(tag, "ba7816bf8f01",
		"account tag: 12 hex digits of SHA-256 of the name");
	sink_account_tag(NULL, tag);
	tap_str(tag, "", "account tag: none without an account");

	tap_ok(sink_maildir_ops.open(&acct, md, 0, &s, &err) == 0,
	       "account: open a Maildir for an account");
	char *loc = deliver(s, S("Subject: tagged\n\n"), 4);
	char *u = loc != NULL ? unique_part(loc) : xstrdup("");
	tap_ok(ends_with(u, "Aba7816bf8f01") && strchr(u, 'R') != NULL,
	       "account: the unique part ends in A<tag>");
	free(u);
	/* Staged as tmp/NAME: the tag is in the name from the start. */
	const char *base = loc != NULL ? strchr(loc, '/') + 1 : "";
	const char *size = strstr(base, ",S=");
	char *tmp = xasprintf("%s/tmp/%.*s", md,
			      (int)(size != NULL ? size - base : 0), base);
	tap_ok(size != NULL && count_in(md, "tmp") == 1 &&
		   access(tmp, F_OK) == 0,
	       "account: the tmp/ file has the same tagged name");
	tap_ok(s->ops->commit(s, &err) == 0 && count_in(md, "new") == 1,
	       "account: commit");
	free(tmp);
	free(loc);
	s->ops->close(&s);

	plant_leftovers(md);
	tap_ok(sink_maildir_ops.open(NULL, md, 0, &s, &err) == 0 &&
		   leftovers_kept(md, true),
	       "account: a sink without an account removes no tmp/ file");
	s->ops->close(&s);
	tap_ok(sink_maildir_ops.open(&acct, md, 0, &s, &err) == 0 &&
		   leftovers_kept(md, false),
	       "account: open removes the account's tmp/ leftovers only");
	tap_ok(count_in(md, "new") == 1, "account: and leaves new/ alone");
	s->ops->close(&s);
	plant_leftovers(md);
	tap_ok(sink_maildir_ops.recover(&acct, md, NULL, 0, &err) == 0 &&
		   leftovers_kept(md, false),
	       "account: recover removes them too");
	free(md);
}

/* What happens to a published message between the crash and recovery. */
enum md_op {
	MD_KEEP,      /* nothing */
	MD_TO_CUR,    /* a reader moves new/NAME to cur/NAME:2,S */
	MD_REFLAG,    /* a reader makes cur/NAME:2,S cur/NAME:2,RS */
	MD_REMOVE,    /* deleted (or never moved out of tmp/) */
	MD_OVERWRITE, /* other bytes of the same size */
	MD_GROW,      /* one byte more */
};

static const struct {
	const char *what;
	const char *flags;
	enum md_op op;
	enum sink_found want;
	const char *moved_info; /* moved_to is "cur/NAME" + this */
} rcases[] = {
    {"in new/, whole", NULL, MD_KEEP, SINK_FOUND, NULL},
    {"in cur/ with its flags, whole", "S", MD_KEEP, SINK_FOUND, NULL},
    {"moved by a reader to cur/NAME:2,S", NULL, MD_TO_CUR, SINK_FOUND, ":2,S"},
    {"given another flag by a reader", "S", MD_REFLAG, SINK_FOUND, ":2,RS"},
    {"missing", NULL, MD_REMOVE, SINK_ABSENT, NULL},
    {"missing from cur/", "F", MD_REMOVE, SINK_ABSENT, NULL},
    {"other bytes of the same size", NULL, MD_OVERWRITE, SINK_FOREIGN, NULL},
    {"a byte more", "S", MD_GROW, SINK_FOREIGN, NULL},
};
#define N_RCASES (sizeof(rcases) / sizeof(rcases[0]))

/* Does to the file at MD/LOC what OP says; returns the moved_to recovery
 * must report (caller frees), or NULL. */
static char *apply_op(const char *md, const char *loc, enum md_op op,
		      const char *moved_info)
{
	char *path = xasprintf("%s/%s", md, loc);
	char *moved = NULL;
	size_t len;
	char *bytes;

	switch (op) {
	case MD_KEEP:
		break;
	case MD_TO_CUR:
	case MD_REFLAG: {
		const char *base = strchr(loc, '/') + 1;
		const char *info = strstr(base, ":2,");
		int bl = (int)(info != NULL ? info - base : (long)strlen(base));
		moved = xasprintf("cur/%.*s%s", bl, base, moved_info);
		char *to = xasprintf("%s/%s", md, moved);
		if (rename(path, to) < 0)
			perror(to);
		free(to);
		break;
	}
	case MD_REMOVE:
		unlink(path);
		break;
	case MD_OVERWRITE:
	case MD_GROW:
		bytes = read_all(path, &len);
		if (op == MD_OVERWRITE)
			bytes[len - 1] ^= 0x20;
		else
			bytes[len++] = '\n'; /* read_all's NUL has room */
		write_file(path, bytes, len);
		free(bytes);
		break;
	}
	free(path);
	return moved;
}

/* A crash after the journal said where each message goes: recover tells
 * the published, the missing and the overwritten apart. */
static void test_recover(const char *dir)
{
	struct conf_account acct = {.name = "abc"};
	char *md = xasprintf("%s/recover", dir);
	struct sink *s = NULL;
	char *err = NULL, *want_moved[N_RCASES] = {NULL};
	struct sink_intent in[N_RCASES];
	bool ok = true;

	sink_maildir_ops.open(&acct, md, 0, &s, &err);
	for (size_t i = 0; i < N_RCASES; i++) {
		const struct sink_meta meta = {.flags = rcases[i].flags};
		char *msg = xasprintf("Subject: r%zu\n\nbody %zu\n", i, i);
		ok = ok && stage_meta(s, &meta, msg, strlen(msg), 7) == 0;
		free(msg);
	}
	size_t n = intents_from_placed(s, in, N_RCASES);
	tap_ok(ok && n == N_RCASES && s->ops->commit(s, &err) == 0,
	       "recover: a batch published");
	s->ops->close(&s);
	for (size_t i = 0; i < n; i++) {
		/* The journal holds the message's own hash for a Maildir. */
		char *path = xasprintf("%s/%s", md, in[i].location);
		char hash[65];
		file_hash(path, 0, -1, hash);
		free((char *)in[i].disk_hash);
		in[i].disk_hash = xstrdup(hash);
		free(path);
		want_moved[i] = apply_op(md, in[i].location, rcases[i].op,
					 rcases[i].moved_info);
	}
	plant_leftovers(md);
	tap_ok(sink_maildir_ops.recover(&acct, md, in, n, &err) == 0,
	       "recover: returns 0");
	for (size_t i = 0; i < n; i++) {
		char *what = xasprintf("recover: %s", rcases[i].what);
		bool good =
		    in[i].found == rcases[i].want &&
		    (in[i].note != NULL) == (rcases[i].want == SINK_FOREIGN);
		if (in[i].note != NULL)
			printf("# %s\n", in[i].note);
		if (rcases[i].want == SINK_FOREIGN) {
			/* The other bytes are left where they are. */
			char *path = xasprintf("%s/%s", md, in[i].location);
			good = good && file_size(path) >= 0 &&
			       strstr(in[i].note, in[i].location) != NULL;
			free(path);
		}
		tap_ok(good, what);
		free(what);
		what = xasprintf("recover: %s: moved_to", rcases[i].what);
		tap_str(in[i].moved_to, want_moved[i], what);
		free(what);
		free(want_moved[i]);
	}
	tap_ok(leftovers_kept(md, false),
	       "recover: the account's tmp/ leftovers are gone");
	intents_clear(in, n);

	/* No Maildir at all: nothing of the batch was published. */
	char *gone = xasprintf("%s/never", dir);
	in[0] = (struct sink_intent){.location = xstrdup("new/a,S=1"),
				     .disk_size = 1,
				     .disk_hash = xstrdup("00"),
				     .found = SINK_FOUND};
	in[1] = (struct sink_intent){.location = xstrdup("cur/b,S=2:2,S"),
				     .disk_size = 2,
				     .disk_hash = xstrdup("11"),
				     .found = SINKTEST_UNSET};
	tap_ok(sink_maildir_ops.recover(&acct, gone, in, 2, &err) == 0 &&
		   in[0].found == SINK_ABSENT && in[1].found == SINK_ABSENT,
	       "recover: a missing Maildir: every message absent");
	tap_ok(access(gone, F_OK) < 0, "recover: and it is not created");
	intents_clear(in, 2);
	free(gone);
	free(md);
}

/* ---- scan ------------------------------------------------------------- */

/* A delivered test message and where it went. */
struct placed_msg {
	char *loc;
	const struct tmsg *m;
};

/* Scan order: new/ before cur/, then by name. */
static int placed_cmp(const void *a, const void *b)
{
	const struct placed_msg *x = a, *y = b;
	int sx = strncmp(x->loc, "cur/", 4) == 0;
	int sy = strncmp(y->loc, "cur/", 4) == 0;

	return sx != sy ? sx - sy : strcmp(x->loc + 4, y->loc + 4);
}

/* Delivers and commits the N test messages T into the Maildir MD, every
 * third one flagged (into cur/); fills P (N entries) in scan order. */
static bool deliver_all(const char *md, const struct tmsg *t, size_t n,
			struct placed_msg *p)
{
	struct sink *s = NULL;
	char *err = NULL;
	bool ok = sink_maildir_ops.open(NULL, md, 0, &s, &err) == 0;

	for (size_t i = 0; ok && i < n; i++) {
		const struct sink_meta meta = {.flags = i % 3 == 2 ? "S" : ""};
		p[i] = (struct placed_msg){
		    deliver_meta(s, &meta, t[i].p, t[i].len, t[i].chunk),
		    &t[i]};
		ok = p[i].loc != NULL;
	}
	ok = ok && s->ops->commit(s, &err) == 0;
	if (err != NULL)
		printf("# %s\n", err);
	free(err);
	if (s != NULL)
		s->ops->close(&s);
	if (ok)
		qsort(p, n, sizeof(*p), placed_cmp);
	return ok;
}

/* Does the scan L give exactly the N messages P, in order? */
static bool scan_matches(const struct scan_log *l, const struct placed_msg *p,
			 size_t n)
{
	bool ok = l->bad == 0 && l->n == n;

	for (size_t i = 0; ok && i < n; i++) {
		ok = strcmp(l->m[i].loc, p[i].loc) == 0 &&
		     l->m[i].len == p[i].m->len &&
		     memcmp(l->m[i].p, p[i].m->p, p[i].m->len) == 0;
		if (!ok)
			printf("# message %zu (%s): %s, %zu bytes\n", i,
			       p[i].m->what, l->m[i].loc, l->m[i].len);
	}
	return ok;
}

/* Things in a Maildir that are no messages. */
static void plant_noise(const char *md)
{
	char *p = xasprintf("%s/new/.hidden", md);
	write_file(p, S("not mail"));
	free(p);
	p = xasprintf("%s/tmp/1.M1P1Q1R1.host", md);
	write_file(p, S("in tmp/"));
	free(p);
	p = xasprintf("%s/cur/a-directory", md);
	mkdir(p, 0700);
	free(p);
	p = xasprintf("%s/new/zz-symlink", md);
	if (symlink("/etc/passwd", p) < 0)
		perror(p);
	free(p);
}

static void test_scan(const char *dir)
{
	char *md = xasprintf("%s/scan", dir);
	struct scan_log l = {0};
	size_t n;
	struct tmsg *t = tmsgs_new(&n);
	struct placed_msg *p = xcalloc(n, sizeof(*p));
	char *err = NULL;

	tap_ok(deliver_all(md, t, n, p), "scan: test messages delivered");
	plant_noise(md);
	tap_ok(scan_into(&sink_maildir_ops, md, &l, NULL) == 0,
	       "scan: returns 0");
	tap_ok(scan_matches(&l, p, n),
	       "scan: new/ then cur/ by name, each message's exact bytes "
	       "and recorded location; dot files, tmp/, directories and "
	       "symlinks skipped");

	l.stop_at = 3;
	l.stop_ret = 42;
	tap_ok(scan_into(&sink_maildir_ops, md, &l, NULL) == 42 && l.n == 2 &&
		   l.bad == 0,
	       "scan: a callback's non-zero value stops it and is returned");
	l.stop_at = 0;

	char *gone = xasprintf("%s/never", dir);
	tap_ok(scan_into(&sink_maildir_ops, gone, &l, NULL) == 0 && l.n == 0,
	       "scan: a missing Maildir is empty");
	tap_ok(access(gone, F_OK) < 0, "scan: and is not created");
	free(gone);

	/* new/ a file where a directory must be: a real read error. */
	char *bad = xasprintf("%s/bad", dir);
	char *bad_new = xasprintf("%s/new", bad);
	mkdir(bad, 0700);
	write_file(bad_new, S("x"));
	int r = scan_into(&sink_maildir_ops, bad, &l, &err);
	tap_ok(r == -1 && err != NULL && strstr(err, bad) != NULL &&
		   strstr(err, "new/") != NULL &&
		   strstr(err, "Not a directory") != NULL,
	       "scan: an unreadable new/ is an error naming it");
	printf("# %s\n", err != NULL ? err : "(no error)");
	free(err);
	err = NULL;

	/* An unreadable message file. */
	if (geteuid() == 0) {
		tap_ok(1, "scan: unreadable file # SKIP root reads a 0000 "
			  "file anyway");
	} else {
		char *f = xasprintf("%s/%s", md, p[0].loc);
		chmod(f, 0);
		r = scan_into(&sink_maildir_ops, md, &l, &err);
		tap_ok(r == -1 && err != NULL && strstr(err, p[0].loc) &&
			   strstr(err, "Permission denied"),
		       "scan: an unreadable message file is an error naming "
		       "it");
		printf("# %s\n", err != NULL ? err : "(no error)");
		chmod(f, 0600);
		free(err);
		err = NULL;
		free(f);
	}
	scan_log_clear(&l);
	for (size_t i = 0; i < n; i++)
		free(p[i].loc);
	free(p);
	tmsgs_free(t, n);
	free(bad_new);
	free(bad);
	free(md);
}

/* ---- verify ----------------------------------------------------------- */

/* Verifies M at LOC in MD; is the answer WANT, with MOVED_TO and WHY as
 * given (WHY: a substring; NULL = none)? */
static bool verify_is(const char *md, const char *loc, const struct tmsg *m,
		      enum sink_found want, const char *moved_to,
		      const char *why)
{
	struct verdict v = verify_msg(&sink_maildir_ops, md, loc, m->p, m->len);
	bool ok = v.ret == 0 && v.found == want && v.err == NULL &&
		  (moved_to == NULL ? v.moved_to == NULL
				    : v.moved_to != NULL &&
					  strcmp(v.moved_to, moved_to) == 0) &&
		  (why == NULL ? v.why == NULL
			       : v.why != NULL && strstr(v.why, why) != NULL);
	if (!ok)
		printf("# verify %s: ret %d found %d moved_to %s why %s err "
		       "%s\n",
		       loc, v.ret, (int)v.found, v.moved_to ? v.moved_to : "-",
		       v.why ? v.why : "-", v.err ? v.err : "-");
	verdict_clear(&v);
	return ok;
}

/* Renames MD/FROM to MD/TO. */
static void md_rename(const char *md, const char *from, const char *to)
{
	char *a = xasprintf("%s/%s", md, from), *b = xasprintf("%s/%s", md, to);
	if (rename(a, b) < 0)
		perror(b);
	free(a);
	free(b);
}

/* The name of LOC without its sub-directory and info: "BASE". */
static char *base_of(const char *loc)
{
	const char *b = strchr(loc, '/') + 1;
	const char *info = strstr(b, ":2,");
	return xstrndup(b, info != NULL ? (size_t)(info - b) : strlen(b));
}

/* The index of the first message of P (N) past FROM with at least 10
 * bytes: the changes tried on it need some. */
static size_t pick_long(const struct placed_msg *p, size_t n, size_t from)
{
	size_t i = from;

	while (i + 1 < n && p[i].m->len < 10)
		i++;
	return i;
}

static void test_verify(const char *dir)
{
	char *md = xasprintf("%s/verify", dir);
	size_t n;
	struct tmsg *t = tmsgs_new(&n);
	struct placed_msg *p = xcalloc(n, sizeof(*p));
	bool ok = deliver_all(md, t, n, p);

	for (size_t i = 0; ok && i < n; i++)
		ok = verify_is(md, p[i].loc, p[i].m, SINK_FOUND, NULL, NULL);
	tap_ok(ok, "verify: every delivered message (NUL, CR, empty, 5 MB) "
		   "is found where it was put");

	/* In scan order new/ (8 of them) comes first, cur/ last: K0 is
	 * in new/, p[n - 1] in cur/. */
	size_t k0 = pick_long(p, n, 0), d = k0 == 0 ? 1 : 0;
	char *b0 = base_of(p[k0].loc), *bl = base_of(p[n - 1].loc);
	char *to_cur = xasprintf("cur/%s:2,S", b0);
	md_rename(md, p[k0].loc, to_cur);
	tap_ok(verify_is(md, p[k0].loc, p[k0].m, SINK_FOUND, to_cur, NULL),
	       "verify: a message a reader moved to cur/ with flags is found "
	       "there, moved_to says where");
	char *reflag = xasprintf("cur/%s:2,RS", bl);
	md_rename(md, p[n - 1].loc, reflag);
	tap_ok(
	    verify_is(md, p[n - 1].loc, p[n - 1].m, SINK_FOUND, reflag, NULL),
	    "verify: a message given another flag is found");

	char *f = xasprintf("%s/%s", md, p[d].loc);
	unlink(f);
	tap_ok(verify_is(md, p[d].loc, p[d].m, SINK_ABSENT, NULL, "missing"),
	       "verify: a deleted file is absent: missing");
	free(f);

	f = xasprintf("%s/%s", md, to_cur);
	if (truncate(f, (off_t)p[k0].m->len - 1) < 0)
		perror(f);
	char *why = xasprintf("%s: %zu bytes, %zu recorded", to_cur,
			      p[k0].m->len - 1, p[k0].m->len);
	tap_ok(verify_is(md, p[k0].loc, p[k0].m, SINK_ABSENT, NULL, why),
	       "verify: a truncated file is absent, why gives both sizes");
	free(why);
	free(f);

	size_t k = pick_long(p, n, (k0 > d ? k0 : d) + 1);
	f = xasprintf("%s/%s", md, p[k].loc);
	size_t len;
	char *bytes = read_all(f, &len);
	bytes[len / 2] ^= 0x01;
	write_file(f, bytes, len);
	free(bytes);
	why = xasprintf("%s: content differs", p[k].loc);
	tap_ok(verify_is(md, p[k].loc, p[k].m, SINK_ABSENT, NULL, why),
	       "verify: one byte changed is absent: content differs");
	free(why);
	free(f);

	k = pick_long(p, n, k + 1);
	struct tmsg longer = *p[k].m;
	longer.len--;
	why = xasprintf("%s: %zu bytes, %zu recorded", p[k].loc, p[k].m->len,
			longer.len);
	tap_ok(verify_is(md, p[k].loc, &longer, SINK_ABSENT, NULL, why),
	       "verify: another recorded size is absent");
	free(why);

	/* A directory where the message was. */
	k = pick_long(p, n, k + 1);
	f = xasprintf("%s/%s", md, p[k].loc);
	unlink(f);
	mkdir(f, 0700);
	why = xasprintf("%s: not a regular file", p[k].loc);
	tap_ok(verify_is(md, p[k].loc, p[k].m, SINK_ABSENT, NULL, why),
	       "verify: a directory in the message's place is absent");
	free(why);
	free(f);

	tap_ok(verify_is(md, "new/../../etc/passwd", p[3].m, SINK_ABSENT, NULL,
			 "not a Maildir location"),
	       "verify: a location out of the Maildir is refused");
	char *gone = xasprintf("%s/never", dir);
	tap_ok(verify_is(gone, p[3].loc, p[3].m, SINK_ABSENT, NULL, "missing"),
	       "verify: a missing Maildir: missing");
	free(gone);

	/* new/ a file where a directory must be: a real read error. */
	char *bad = xasprintf("%s/vbad", dir);
	char *bad_new = xasprintf("%s/new", bad);
	mkdir(bad, 0700);
	write_file(bad_new, S("x"));
	struct verdict v =
	    verify_msg(&sink_maildir_ops, bad, "new/x,S=1", S("x"));
	tap_ok(v.ret == -1 && v.err != NULL && strstr(v.err, bad) != NULL &&
		   strstr(v.err, "new/x,S=1") != NULL,
	       "verify: an unreadable target is an error naming it");
	printf("# %s\n", v.err != NULL ? v.err : "(no error)");
	verdict_clear(&v);
	if (geteuid() == 0) {
		tap_ok(1, "verify: unreadable file # SKIP root reads a 0000 "
			  "file anyway");
	} else {
		f = xasprintf("%s/%s", md, p[4].loc);
		chmod(f, 0);
		v = verify_msg(&sink_maildir_ops, md, p[4].loc, p[4].m->p,
			       p[4].m->len);
		tap_ok(v.ret == -1 && v.err != NULL &&
			   strstr(v.err, p[4].loc) != NULL,
		       "verify: an unreadable file is an error naming it");
		verdict_clear(&v);
		free(f);
	}
	free(bad_new);
	free(bad);
	free(b0);
	free(bl);
	free(to_cur);
	free(reflag);
	for (size_t i = 0; i < n; i++)
		free(p[i].loc);
	free(p);
	tmsgs_free(t, n);
	free(md);
}

int main(void)
{
	char *dir = make_tmpdir();

	test_names();
	test_noreplace(dir);
	test_open(dir);
	test_run(dir);
	test_abort_rollback(dir);
	test_two_sinks(dir);
	test_write_error(dir);
	test_flags(dir);
	test_bad_flags(dir);
	test_rollback_cur(dir);
	test_marker(dir);
	test_placed(dir);
	test_account(dir);
	test_recover(dir);
	test_scan(dir);
	test_verify(dir);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return tap_done();
}
