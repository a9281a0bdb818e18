/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "sink_mda.h"
#include "sinktest.h"
#include "tap.h"
#include "util.h"

#define N(a) (sizeof(a) / sizeof(*(a)))

/* ---- %-expansion ---- */

struct expand_case {
	const char *tmpl;
	bool quote;
	const char *want; /* NULL: an error */
};

static const struct sink_mda_vars vars = {"joe doe", "work",
					  "a'b;$(x)@example.com"};

static const struct expand_case expand_cases[] = {
    {"", false, ""},
    {"plain", false, "plain"},
    {"%u", false, "joe doe"},
    {"-a%a-", false, "-awork-"},
    {"%f", false, "a'b;$(x)@example.com"},
    {"100%%", false, "100%"},
    {"%%u", false, "%u"},
    {"%%%u", false, "%joe doe"},
    {"%u%a%f", false, "joe doeworka'b;$(x)@example.com"},
    {"%x", false, NULL},
    {"%U", false, NULL},
    {"%", false, NULL},
    {"abc%", false, NULL},
    {"% u", false, NULL},
    {"deliver %u", true, "deliver 'joe doe'"},
    {"x -f %f", true, "x -f 'a'\\''b;$(x)@example.com'"},
    {"%% %a", true, "% 'work'"},
    {"%q", true, NULL},
};

static void test_expand(void)
{
	for (size_t i = 0; i < N(expand_cases); i++) {
		const struct expand_case *c = &expand_cases[i];
		char *out = NULL, *err = NULL, what[200];
		int r = sink_mda_expand(c->tmpl, &vars, c->quote, &out, &err);
		snprintf(what, sizeof(what), "expand \"%s\"%s", c->tmpl,
			 c->quote ? " (shell)" : "");
		if (c->want == NULL) {
			tap_ok(r < 0 && err != NULL && out == NULL, what);
			if (err != NULL)
				printf("# %s\n", err);
		} else {
			tap_ok(r == 0, what);
			tap_str(out, c->want, what);
		}
		free(out);
		free(err);
	}
}

/* ---- the command line ---- */

static void test_argv(void)
{
	char **argv = NULL, *err = NULL;

	tap_ok(sink_mda_argv("/usr/bin/procmail -d %u -a '%a x' -f %f", false,
			     &vars, &argv, &err) == 0,
	       "argv: split, then expanded");
	const char *want[] = {
	    "/usr/bin/procmail",    "-d", "joe doe", "-a", "work x", "-f",
	    "a'b;$(x)@example.com", NULL};
	bool same = argv != NULL;
	for (size_t i = 0; same && i < N(want); i++)
		same = want[i] == NULL
			   ? argv[i] == NULL
			   : argv[i] != NULL && strcmp(argv[i], want[i]) == 0;
	tap_ok(same, "argv: a value with blanks stays one argument");
	util_argv_free(&argv);

	tap_ok(sink_mda_argv("cat >x; echo %u", true, &vars, &argv, &err) == 0,
	       "argv: shell");
	tap_ok(argv != NULL && strcmp(argv[0], "/bin/sh") == 0 &&
		   strcmp(argv[1], "-c") == 0 &&
		   strcmp(argv[2], "cat >x; echo 'joe doe'") == 0 &&
		   argv[3] == NULL,
	       "argv: /bin/sh -c with the quoted expansion");
	util_argv_free(&argv);

	tap_ok(sink_mda_check("procmail -d %u", false, &err) == 0,
	       "check: a good command");
	tap_ok(sink_mda_check("procmail -d %z", false, &err) < 0,
	       "check: unknown escape refused");
	free(err);
	err = NULL;
	tap_ok(sink_mda_check("procmail 'unterminated", false, &err) < 0,
	       "check: unterminated quote refused");
	free(err);
	err = NULL;
	tap_ok(sink_mda_check("x 'unterminated", true, &err) == 0,
	       "check: with the shell, quoting is the shell's business");
	tap_ok(sink_mda_check("   ", false, &err) < 0,
	       "check: empty command refused");
	free(err);
}


/* ---- exit status ---- */

static void test_status(void)
{
	static const struct {
		int wstatus;
		enum sink_mda_result want;
		const char *why;
	} cases[] = {
	    {0, SINK_MDA_DELIVERED, NULL},
	    {75 << 8, SINK_MDA_TEMP,
	     "exited with status 75 (temporary failure)"},
	    {1 << 8, SINK_MDA_FAILED, "exited with status 1"},
	    {127 << 8, SINK_MDA_FAILED, "exited with status 127"},
	    {SIGKILL, SINK_MDA_TEMP, "was killed by signal 9"},
	    {SIGTERM, SINK_MDA_TEMP, "was killed by signal 15"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char *why = NULL, what[100];
		snprintf(what, sizeof(what), "status 0x%x", cases[i].wstatus);
		tap_ok(sink_mda_status(cases[i].wstatus, &why) == cases[i].want,
		       what);
		tap_str(why, cases[i].why, what);
		free(why);
	}
}

/* ---- the sink, with real programs ---- */

static char *slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, len = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (len == cap)
			buf = xrealloc(buf, (cap = cap * 2 + 4096) + 1);
		size_t n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = '\0';
	*len_r = len;
	return buf;
}

static struct sink *open_mda(const char *cmd, bool shell, bool from_line,
			     int timeout)
{
	struct conf_account acct = {.name = "acct",
				    .user = "joe",
				    .mda_shell = shell,
				    .mda_from_line = from_line,
				    .mda_timeout = timeout};
	char *err = NULL;
	struct sink *sink = NULL;

	/* The sink copies what it needs: ACCT may go now. */
	if (sink_mda_ops.open(&acct, cmd, 0, &sink, &err) < 0) {
		printf("# open: %s\n", err);
		free(err);
	}
	return sink;
}

/* Returns how many messages prepare lists, all of them "mda"; -1 if
 * prepare fails or another location is listed. */
static long placed_mda(struct sink *s)
{
	const struct sink_placed *pl = NULL;
	size_t n = 0;
	char *err = NULL;

	if (s->ops->prepare(s, &pl, &n, &err) != 0) {
		printf("# prepare: %s\n", err);
		free(err);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(pl[i].location, "mda") != 0 || pl[i].start != 0 ||
		    pl[i].disk_size != 0 || pl[i].disk_hash[0] != '\0')
			return -1;
	return (long)n;
}

/* Runs one message through; returns end()'s result, *err_r its text.
 * prepare must list the message when it was delivered, and only then. */
static int run_one(struct sink *s, const char *msg, size_t len, size_t chunk,
		   char **err_r)
{
	struct sink_meta meta = {.date = 86400 * 365};
	long before = placed_mda(s);

	*err_r = NULL;
	if (s->ops->begin(s, &meta, err_r) < 0)
		return -9;
	for (size_t i = 0; i < len; i += chunk) {
		size_t n = len - i < chunk ? len - i : chunk;
		if (s->ops->write(s, msg + i, n, err_r) < 0)
			return -8;
	}
	int r = s->ops->end(s, err_r);
	long after = placed_mda(s);
	if (r == 0)
		tap_ok(before >= 0 && after == before + 1,
		       "prepare lists the delivered message as \"mda\"");
	else
		tap_ok(before >= 0 && after == before,
		       "prepare does not list an undelivered message");
	return r;
}

static const char msg[] = "Return-Path: <bounce@example.org>\n"
			  "Subject: hi\n"
			  "\n"
			  "From here\n"
			  ">From there\n"
			  "no newline at the end";

static void test_deliver(const char *dir)
{
	char *out = xasprintf("%s/out", dir);
	char *cmd = xasprintf("/bin/sh -c 'cat > \"$0\"; printf \"%%%%s\\n\" "
			      "\"$@\" > \"$0.args\"' %s %%u %%a %%f %%%%",
			      out);
	struct sink *s = open_mda(cmd, false, false, 10);
	char *err = NULL, *args = NULL;
	size_t len = 0;
	long delivered = 0;

	for (size_t chunk = 1; s != NULL && chunk <= sizeof(msg); chunk *= 7) {
		char what[80];
		snprintf(what, sizeof(what), "deliver in %zu-byte chunks",
			 chunk);
		int r = run_one(s, msg, sizeof(msg) - 1, chunk, &err);
		delivered += r == 0;
		tap_ok(r == 0, what);
		if (err != NULL)
			printf("# %s\n", err);
		free(err);
		char *got = slurp(out, &len);
		tap_mem(got, got != NULL ? len : 0, msg, sizeof(msg) - 1,
			"the MDA got the message byte for byte");
		free(got);
	}
	char *ap = xasprintf("%s.args", out);
	args = slurp(ap, &len);
	tap_str(args, "joe\nacct\nbounce@example.org\n%\n",
		"%u %a %f %% arrive as arguments");
	free(args);
	tap_ok(s != NULL && delivered == 3 && placed_mda(s) == delivered,
	       "prepare lists the three delivered messages");
	tap_ok(s != NULL && s->ops->commit(s, &err) == 0, "commit: no-op");
	tap_ok(s != NULL && placed_mda(s) == 0,
	       "after commit prepare lists nothing");
	if (s != NULL && run_one(s, msg, sizeof(msg) - 1, 64, &err) == 0)
		s->ops->rollback(s);
	free(err);
	err = NULL;
	tap_ok(s != NULL && placed_mda(s) == 0,
	       "after rollback prepare lists nothing");
	if (s != NULL)
		s->ops->close(&s);
	free(cmd);

	/* The From_ line, and the body as is (the MDA quotes if it must). */
	cmd = xasprintf("cat > '%s'", out);
	s = open_mda(cmd, true, true, 10);
	tap_ok(s != NULL && run_one(s, msg, sizeof(msg) - 1, 5, &err) == 0,
	       "mda_shell + mda_from_line: delivered");
	char *want = xasprintf("From bounce@example.org Fri Jan  1 00:00:00 "
			       "1971\n%s",
			       msg);
	char *got = slurp(out, &len);
	tap_mem(got, got != NULL ? len : 0, want, strlen(want),
		"From_ line first, then the message unquoted");
	free(got);
	free(want);
	if (s != NULL)
		s->ops->close(&s);
	free(cmd);
	free(ap);
	free(out);
}

static void test_failures(void)
{
	static const struct {
		const char *cmd;
		int timeout;
		int want;
		const char *err_has;
	} cases[] = {
	    {"cat >/dev/null; exit 75", 10, SINK_LOCKED, "status 75"},
	    {"cat >/dev/null; echo 'no such user' >&2; exit 67", 10, -1,
	     "status 67: no such user"},
	    {"exit 0", 10, -1, "without reading"},
	    {"exit 75", 10, SINK_LOCKED, "status 75"},
	    {"kill -TERM $$", 10, SINK_LOCKED, "signal 15"},
	    {"sleep 30", 1, SINK_LOCKED, "timed out after 1 s"},
	    {"cat >/dev/null; sleep 30", 1, SINK_LOCKED, "timed out"},
	};
	/* Larger than a pipe's buffer: the MDA must read, or we notice. */
	size_t big_len = 1024 * 1024;
	char *big = xmalloc(big_len);

	memset(big, 'x', big_len);
	memcpy(big, "Subject: big\n\n", 14);
	for (size_t i = 0; i < N(cases); i++) {
		struct sink *s =
		    open_mda(cases[i].cmd, true, false, cases[i].timeout);
		char *err = NULL, what[160];
		int64_t t0 = util_now_ms();
		int r = s != NULL ? run_one(s, big, big_len, 65536, &err) : -7;
		int64_t took = util_now_ms() - t0;
		snprintf(what, sizeof(what), "\"%s\": end returns %d",
			 cases[i].cmd, cases[i].want);
		tap_ok(r == cases[i].want, what);
		snprintf(what, sizeof(what), "\"%s\": error says \"%s\"",
			 cases[i].cmd, cases[i].err_has);
		tap_ok(err != NULL && strstr(err, cases[i].err_has) != NULL,
		       what);
		if (err != NULL)
			printf("# %s (%lld ms)\n", err, (long long)took);
		snprintf(what, sizeof(what), "\"%s\": in bounded time",
			 cases[i].cmd);
		tap_ok(took < (cases[i].timeout * 2 + 3) * 1000, what);
		free(err);
		if (s != NULL)
			s->ops->close(&s);
	}
	free(big);

	struct sink *s = open_mda("/nonexistent/mda -x", false, false, 5);
	char *err = NULL;
	tap_ok(s != NULL && run_one(s, msg, sizeof(msg) - 1, 4096, &err) < 0 &&
		   err != NULL && strstr(err, "cannot run") != NULL,
	       "a missing program: an error, not a temporary failure");
	if (err != NULL)
		printf("# %s\n", err);
	free(err);
	if (s != NULL)
		s->ops->close(&s);

	/* abort kills a running MDA: it must not see an end of input. */
	s = open_mda("sleep 30", true, false, 30);
	int64_t t0 = util_now_ms();
	err = NULL;
	if (s != NULL && s->ops->begin(s, NULL, &err) == 0 &&
	    s->ops->write(s, msg, sizeof(msg) - 1, &err) == 0)
		s->ops->abort(s);
	tap_ok(s != NULL && util_now_ms() - t0 < 5000,
	       "abort kills the MDA at once");
	free(err);
	if (s != NULL)
		s->ops->close(&s);
}

static void test_open_errors(void)
{
	tap_ok(sink_mda_ops.recover == NULL,
	       "no recover: what an MDA delivered is not journalled");

	struct sink *s = NULL;
	char *err = NULL;

	struct conf_account acct = {.name = "a", .user = "u", .mda_timeout = 5};

	tap_ok(sink_mda_ops.open(&acct, "x %y", 0, &s, &err) < 0 &&
		   s == NULL && err != NULL && strstr(err, "%y") != NULL,
	       "open: an unknown escape is refused");
	free(err);
	err = NULL;
	tap_ok(sink_mda_ops.open(&acct, "", 0, &s, &err) < 0 && s == NULL,
	       "open: an empty command is refused");
	free(err);
}

int main(void)
{
	char *dir = make_tmpdir();

	signal(SIGPIPE, SIG_IGN);
	test_expand();
	test_argv();
	test_status();
	test_deliver(dir);
	test_failures();
	test_open_errors();
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return tap_done();
}
