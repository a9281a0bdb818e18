/* SPDX-License-Identifier: ISC */
/* The MDA sink: one run of an external delivery program per message, the
 * message on its stdin.  Its exit status 0 is the delivery; nothing can
 * be rolled back once it has run, so a message is delivered at least
 * once, never exactly once: session records it only after end() said the
 * program exited 0, and a crash between the two delivers it again. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sink_mbox.h"
#include "sink_mda.h"
#include "util.h"

#define EX_TEMPFAIL_CODE 75
/* While waiting for the exit, how often to look. */
#define WAIT_STEP_MS 20

extern char **environ;

struct mda {
	struct sink base;
	struct sink_mda_spec spec;
	bool restore_sigpipe;
	struct sigaction old_sigpipe;
	bool in_msg;
	/* The header section, held back until Return-Path (%f) is known. */
	struct sink_mbox_header hdr;
	time_t date;
	/* The running MDA. */
	pid_t pid;	 /* 0: none */
	int in_fd;	 /* its stdin, non-blocking; -1 once closed */
	int err_fd;	 /* its stderr, non-blocking; -1 at EOF */
	bool epipe;	 /* it stopped reading before the end */
	bool timed_out;	 /* killed by us after mda_timeout */
	int write_errno; /* another write error */
	char errline[SINK_MDA_ERRLINE_MAX + 1];
	size_t errline_len;
	bool errline_done;
	/* delivered since the last commit: each one's place is "mda" */
	struct sink_placed *placed;
	size_t n_placed, cap_placed;
};

void sink_mda_spec_clear(struct sink_mda_spec *spec)
{
	free(spec->command);
	free(spec->account);
	free(spec->user);
	*spec = (struct sink_mda_spec){0};
}

/* ---- expansion and the command line ---------------------------------- */

/* Adds V, in single quotes when QUOTE: nothing in it is then syntax to
 * /bin/sh, a "'" inside closing, escaping and reopening the quote. */
static void strbuf_add_value(struct util_str *b, const char *v, bool quote)
{
	if (!quote) {
		util_str_add(b, v, strlen(v));
		return;
	}
	util_str_add(b, "'", 1);
	for (; *v != '\0'; v++)
		if (*v == '\'')
			util_str_add(b, "'\\''", 4);
		else
			util_str_add(b, v, 1);
	util_str_add(b, "'", 1);
}

int sink_mda_expand(const char *tmpl, const struct sink_mda_vars *vars,
		    bool quote, char **out_r, char **err_r)
{
	struct util_str b = {0};

	util_str_add(&b, "", 0);
	for (const char *p = tmpl; *p != '\0'; p++) {
		const char *v = NULL;
		if (*p != '%') {
			util_str_add(&b, p, 1);
			continue;
		}
		switch (p[1]) {
		case 'u':
			v = vars->user;
			break;
		case 'a':
			v = vars->account;
			break;
		case 'f':
			v = vars->sender;
			break;
		case '%':
			util_str_add(&b, "%", 1);
			p++;
			continue;
		case '\0':
			*err_r =
			    xasprintf("\"%s\" ends with a lone \"%%\" "
				      "(write \"%%%%\" for a percent sign)",
				      tmpl);
			free(b.p);
			return -1;
		default:
			*err_r = xasprintf("unknown escape \"%%%c\" in \"%s\" "
					   "(known: %%u, %%a, %%f, %%%%)",
					   p[1], tmpl);
			free(b.p);
			return -1;
		}
		strbuf_add_value(&b, v, quote);
		p++;
	}
	*out_r = b.p;
	return 0;
}

int sink_mda_argv(const char *command, bool shell,
		  const struct sink_mda_vars *vars, char ***argv_r,
		  char **err_r)
{
	char **argv = NULL;

	if (shell) {
		char *cmd = NULL;
		if (sink_mda_expand(command, vars, true, &cmd, err_r) < 0)
			return -1;
		argv = xcalloc(4, sizeof(*argv));
		argv[0] = xstrdup("/bin/sh");
		argv[1] = xstrdup("-c");
		argv[2] = cmd;
		*argv_r = argv;
		return 0;
	}
	if (util_argv_split(command, &argv, err_r) < 0)
		return -1;
	for (char **a = argv; *a != NULL; a++) {
		char *x = NULL;
		if (sink_mda_expand(*a, vars, false, &x, err_r) < 0) {
			util_argv_free(&argv);
			return -1;
		}
		free(*a);
		*a = x;
	}
	*argv_r = argv;
	return 0;
}

int sink_mda_check(const char *command, bool shell, char **err_r)
{
	const struct sink_mda_vars vars = {"u", "a", "f"};
	char **argv = NULL;

	if (sink_mda_argv(command, shell, &vars, &argv, err_r) < 0)
		return -1;
	util_argv_free(&argv);
	return 0;
}

enum sink_mda_result sink_mda_status(int wstatus, char **why_r)
{
	*why_r = NULL;
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
		return SINK_MDA_DELIVERED;
	if (WIFEXITED(wstatus)) {
		int code = WEXITSTATUS(wstatus);
		*why_r = xasprintf(
		    "exited with status %d%s", code,
		    code == EX_TEMPFAIL_CODE ? " (temporary failure)" : "");
		return code == EX_TEMPFAIL_CODE ? SINK_MDA_TEMP
						: SINK_MDA_FAILED;
	}
	if (WIFSIGNALED(wstatus)) {
		*why_r =
		    xasprintf("was killed by signal %d", WTERMSIG(wstatus));
		return SINK_MDA_TEMP;
	}
	*why_r = xstrdup("failed");
	return SINK_MDA_FAILED;
}

/* ---- the running MDA -------------------------------------------------- */

/* Keeps the first line of the MDA's stderr for the error message and
 * throws the rest away, so that it never blocks on a full pipe. */
static void drain_stderr(struct mda *m)
{
	char buf[4096];

	while (m->err_fd >= 0) {
		ssize_t n = read(m->err_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(m->err_fd);
			m->err_fd = -1;
			return;
		}
		for (ssize_t i = 0; i < n && !m->errline_done; i++) {
			unsigned char c = (unsigned char)buf[i];
			if (c == '\n' || m->errline_len == SINK_MDA_ERRLINE_MAX)
				m->errline_done =
				    m->errline_len > 0 || c != '\n';
			else if (c >= 0x20 && c != 0x7f)
				m->errline[m->errline_len++] = (char)c;
		}
		m->errline[m->errline_len] = '\0';
	}
}

/* Kills the MDA and whatever it started (its own process group). */
static void mda_kill(struct mda *m)
{
	if (m->pid > 0) {
		kill(-m->pid, SIGKILL);
		kill(m->pid, SIGKILL);
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Reaps the MDA (killed first when KILL): its wait status, or -1. */
static int mda_reap(struct mda *m, bool kill_it)
{
	int st = -1;

	if (m->pid <= 0)
		return -1;
	if (kill_it)
		mda_kill(m);
	while (waitpid(m->pid, &st, 0) < 0 && errno == EINTR)
		;
	m->pid = 0;
	close_fd(&m->in_fd);
	close_fd(&m->err_fd);
	return st;
}

/* Moves FD to 3 or above, so that the dup2 onto 0-2 in the child always
 * makes a new descriptor (one that exec keeps). */
static int fd_high(int fd)
{
	if (fd > STDERR_FILENO)
		return fd;
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	close(fd);
	return nfd;
}

/* Sets up the child: stdin from IN, stdout to /dev/null, stderr to ERR,
 * default signals (mailhaul ignores SIGPIPE), its own process group. */
static int spawn_setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at,
		       int in, int err)
{
	sigset_t none, dfl;
	static const int sigs[] = {SIGPIPE, SIGCHLD, SIGINT,
				   SIGTERM, SIGHUP,  SIGQUIT};

	sigemptyset(&none);
	sigemptyset(&dfl);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
		sigaddset(&dfl, sigs[i]);
	if (posix_spawn_file_actions_init(fa) != 0)
		return -1;
	if (posix_spawnattr_init(at) != 0) {
		posix_spawn_file_actions_destroy(fa);
		return -1;
	}
	if (posix_spawn_file_actions_adddup2(fa, in, STDIN_FILENO) != 0 ||
	    posix_spawn_file_actions_addopen(fa, STDOUT_FILENO, "/dev/null",
					     O_WRONLY, 0) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, err, STDERR_FILENO) != 0 ||
	    posix_spawnattr_setsigmask(at, &none) != 0 ||
	    posix_spawnattr_setsigdefault(at, &dfl) != 0 ||
	    posix_spawnattr_setpgroup(at, 0) != 0 ||
	    posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK |
					     POSIX_SPAWN_SETSIGDEF |
					     POSIX_SPAWN_SETPGROUP) != 0) {
		posix_spawn_file_actions_destroy(fa);
		posix_spawnattr_destroy(at);
		return -1;
	}
	return 0;
}

/* Starts ARGV with its stdin and stderr on pipes.  0, or -1 with
 * *err_r. */
static int mda_spawn(struct mda *m, char **argv, char **err_r)
{
	int in[2] = {-1, -1}, er[2] = {-1, -1}, e = 0;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0) {
		e = errno;
		goto fail;
	}
	for (int i = 0; i < 2; i++) {
		in[i] = fd_high(in[i]);
		er[i] = fd_high(er[i]);
	}
	if (in[0] < 0 || in[1] < 0 || er[0] < 0 || er[1] < 0) {
		e = errno;
		goto fail;
	}
	if (spawn_setup(&fa, &at, in[0], er[1]) < 0) {
		e = ENOMEM;
		goto fail;
	}
	e = posix_spawnp(&m->pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (e != 0) {
		m->pid = 0;
		goto fail;
	}
	close(in[0]);
	close(er[1]);
	m->in_fd = in[1];
	m->err_fd = er[0];
	fcntl(m->in_fd, F_SETFL, fcntl(m->in_fd, F_GETFL) | O_NONBLOCK);
	fcntl(m->err_fd, F_SETFL, fcntl(m->err_fd, F_GETFL) | O_NONBLOCK);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&er[i]);
	}
	*err_r = xasprintf("mda \"%s\": cannot run %s: %s", m->spec.command,
			   argv[0], strerror(e));
	return -1;
}

/* Waits until the MDA's stdin takes more, reading its stderr meanwhile.
 * Returns 0, or -1 when mda_timeout passed without it reading. */
static int wait_writable(struct mda *m)
{
	int64_t deadline = util_now_ms() + (int64_t)m->spec.timeout * 1000;

	for (;;) {
		int64_t left = deadline - util_now_ms();
		if (left <= 0)
			return -1;
		struct pollfd p[2] = {{.fd = m->in_fd, .events = POLLOUT},
				      {.fd = m->err_fd, .events = POLLIN}};
		int r = poll(p, m->err_fd >= 0 ? 2 : 1, (int)left);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0 && p[1].revents != 0)
			drain_stderr(m);
		if (r > 0 && p[0].revents != 0)
			return 0;
	}
}

/* Feeds LEN bytes of BUF to the MDA.  Nothing here fails the write: an
 * MDA that stopped reading or hangs is dealt with (and its exit status
 * decides) at end, so that it is reported as what it is. */
static void mda_push(struct mda *m, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0 && m->in_fd >= 0 && !m->epipe && !m->timed_out &&
	       m->write_errno == 0) {
		ssize_t n = write(m->in_fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EPIPE) {
			m->epipe = true;
		} else if (n < 0 && errno == EAGAIN) {
			if (wait_writable(m) < 0) {
				m->timed_out = true;
				mda_kill(m);
			}
		} else if (n < 0 && errno != EINTR) {
			m->write_errno = errno;
			mda_kill(m);
		}
	}
}

/* ---- the sink --------------------------------------------------------- */

/* The header is known: starts the MDA and gives it the From_ line (if
 * asked for) and the held-back header.  0, or -1 with *err_r. */
static int mda_start(struct mda *m, char **err_r)
{
	char sender[SINK_MBOX_SENDER_MAX + 1];
	char line[SINK_MBOX_FROM_LINE_MAX];
	char **argv = NULL;
	int n = 0;

	sink_mbox_header_sender(&m->hdr, sender, sizeof(sender));
	if (m->spec.from_line &&
	    (n = sink_mbox_from_line(line, sizeof(line), sender,
				     m->date != 0 ? m->date : time(NULL))) <
		0) {
		*err_r = xasprintf("mda \"%s\": cannot format the From_ line",
				   m->spec.command);
		return -1;
	}
	const struct sink_mda_vars vars = {m->spec.user, m->spec.account,
					   sender};
	char *e = NULL;
	if (sink_mda_argv(m->spec.command, m->spec.shell, &vars, &argv, &e) <
	    0) {
		*err_r = xasprintf("mda \"%s\": %s", m->spec.command, e);
		free(e);
		return -1;
	}
	int r = mda_spawn(m, argv, err_r);
	util_argv_free(&argv);
	if (r < 0)
		return -1;
	mda_push(m, line, (size_t)n);
	mda_push(m, m->hdr.buf, m->hdr.len);
	return 0;
}

static int mda_begin(struct sink *s, const struct sink_meta *meta, char **err_r)
{
	struct mda *m = (struct mda *)s;

	if (m->in_msg) {
		*err_r = xasprintf("mda \"%s\": begin: a message is in "
				   "progress",
				   m->spec.command);
		return -1;
	}
	m->in_msg = true;
	sink_mbox_header_reset(&m->hdr);
	m->date = meta != NULL ? meta->date : 0;
	m->epipe = m->timed_out = false;
	m->write_errno = 0;
	m->errline_len = 0;
	m->errline[0] = '\0';
	m->errline_done = false;
	return 0;
}

static void mda_abort(struct sink *s)
{
	struct mda *m = (struct mda *)s;

	/* An MDA may have delivered part of it already: nothing we can do
	 * about that, but it must not get a whole message by mistake. */
	mda_reap(m, true);
	m->in_msg = false;
}

static int mda_write(struct sink *s, const void *buf, size_t len, char **err_r)
{
	struct mda *m = (struct mda *)s;
	const unsigned char *p = buf;

	if (!m->in_msg) {
		*err_r = xasprintf("mda \"%s\": write: no message in progress",
				   m->spec.command);
		return -1;
	}
	if (!m->hdr.done) {
		size_t n = sink_mbox_header_take(&m->hdr, p, len);
		if (!m->hdr.done)
			return 0;
		p += n;
		len -= n;
		if (mda_start(m, err_r) < 0) {
			m->in_msg = false;
			return -1;
		}
	}
	mda_push(m, p, len);
	return 0;
}

/* Closes the MDA's stdin and waits up to mda_timeout for its exit,
 * killing it then.  Returns its wait status. */
static int mda_wait(struct mda *m)
{
	int64_t deadline = util_now_ms() + (int64_t)m->spec.timeout * 1000;
	int st = 0;

	close_fd(&m->in_fd);
	for (;;) {
		pid_t r = waitpid(m->pid, &st, WNOHANG);
		if (r == m->pid || (r < 0 && errno != EINTR)) {
			m->pid = 0;
			break;
		}
		int64_t left = deadline - util_now_ms();
		if (left <= 0) {
			m->timed_out = true;
			return mda_reap(m, true);
		}
		struct pollfd p = {.fd = m->err_fd, .events = POLLIN};
		int wait = left < WAIT_STEP_MS ? (int)left : WAIT_STEP_MS;
		if (poll(&p, m->err_fd >= 0 ? 1 : 0, wait) > 0)
			drain_stderr(m);
	}
	/* Whatever it printed before exiting is in the pipe now, unless a
	 * child of it still holds the pipe: then read what is there. */
	drain_stderr(m);
	close_fd(&m->err_fd);
	return st;
}

/* The error message for a failed delivery: WHY and the MDA's first line
 * of stderr. */
static char *mda_error(struct mda *m, const char *why)
{
	return m->errline_len > 0
		   ? xasprintf("mda \"%s\" %s: %s", m->spec.command, why,
			       m->errline)
		   : xasprintf("mda \"%s\" %s", m->spec.command, why);
}

/* Maps the MDA's end: 0 delivered, SINK_LOCKED to try again later, -1. */
static int mda_end(struct sink *s, char **err_r)
{
	struct mda *m = (struct mda *)s;
	char *why = NULL;

	if (!m->in_msg) {
		*err_r = xasprintf("mda \"%s\": end: no message in progress",
				   m->spec.command);
		return -1;
	}
	m->in_msg = false;
	if (!m->hdr.done) {
		m->hdr.done = true;
		if (mda_start(m, err_r) < 0)
			return -1;
	}
	if (m->write_errno != 0) {
		why = xasprintf("write: %s", strerror(m->write_errno));
		*err_r = mda_error(m, why);
		mda_reap(m, true);
		free(why);
		return -1;
	}
	int st = mda_wait(m);
	enum sink_mda_result r = sink_mda_status(st, &why);
	if (m->timed_out) {
		free(why);
		why = xasprintf("timed out after %d s and was killed",
				m->spec.timeout);
		r = SINK_MDA_TEMP;
	} else if (r == SINK_MDA_DELIVERED && m->epipe) {
		why = xstrdup("exited with status 0 without reading the "
			      "whole message");
		r = SINK_MDA_FAILED;
	}
	if (r == SINK_MDA_DELIVERED) {
		if (m->n_placed == m->cap_placed) {
			m->cap_placed = m->cap_placed ? 2 * m->cap_placed : 16;
			m->placed = xrealloc(m->placed, m->cap_placed *
							    sizeof(*m->placed));
		}
		m->placed[m->n_placed++] = (struct sink_placed){
		    .location = (char *)"mda"};
		return 0;
	}
	*err_r = mda_error(m, why);
	free(why);
	return r == SINK_MDA_TEMP ? SINK_LOCKED : -1;
}

static int mda_prepare(struct sink *s, const struct sink_placed **placed_r,
		       size_t *n_r, char **err_r)
{
	struct mda *m = (struct mda *)s;

	(void)err_r;
	*placed_r = m->placed;
	*n_r = m->n_placed;
	return 0;
}

/* The MDA's exit 0 was the delivery: nothing is left to make durable. */
static int mda_commit(struct sink *s, char **err_r)
{
	struct mda *m = (struct mda *)s;

	(void)err_r;
	m->n_placed = 0;
	return 0;
}

/* What an MDA delivered cannot be taken back. */
static void mda_rollback(struct sink *s)
{
	struct mda *m = (struct mda *)s;

	m->n_placed = 0;
}

static void mda_close(struct sink **sp)
{
	if (*sp == NULL)
		return;
	struct mda *m = (struct mda *)*sp;
	mda_reap(m, true);
	if (m->restore_sigpipe)
		sigaction(SIGPIPE, &m->old_sigpipe, NULL);
	sink_mda_spec_clear(&m->spec);
	sink_mbox_header_free(&m->hdr);
	free(m->placed);
	free(m);
	*sp = NULL;
}

/* PATH is the spec string (see sink_mda.h); FLAGS concern no MDA.
 * Nothing is started here. */
static int mda_open(const struct conf_account *acct, const char *path,
		    unsigned flags, struct sink **sink_r, char **err_r)
{
	struct mda *m = xcalloc(1, sizeof(*m));
	char *e = NULL;

	(void)flags;
	m->spec = (struct sink_mda_spec){
	    .command = xstrdup(path),
	    .shell = acct->mda_shell,
	    .from_line = acct->mda_from_line,
	    .timeout = acct->mda_timeout,
	    .account = xstrdup(acct->name),
	    .user = xstrdup(acct->user != NULL ? acct->user : ""),
	};
	if (sink_mda_check(m->spec.command, m->spec.shell, &e) < 0) {
		*err_r = xasprintf("mda \"%s\": %s", m->spec.command, e);
		free(e);
		sink_mda_spec_clear(&m->spec);
		free(m);
		return -1;
	}
	m->base.ops = &sink_mda_ops;
	m->in_fd = m->err_fd = -1;
	/* main ignores SIGPIPE already; a write to an MDA that exited must
	 * give EPIPE, never kill us, whoever uses the sink. */
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGPIPE, NULL, &m->old_sigpipe) == 0 &&
	    m->old_sigpipe.sa_handler != SIG_IGN)
		m->restore_sigpipe = sigaction(SIGPIPE, &ign, NULL) == 0;
	*sink_r = &m->base;
	return 0;
}

const struct sink_ops sink_mda_ops = {
    .name = "mda",
    .open = mda_open,
    .begin = mda_begin,
    .write = mda_write,
    .end = mda_end,
    .abort = mda_abort,
    .prepare = mda_prepare,
    .commit = mda_commit,
    .rollback = mda_rollback,
    .close = mda_close,
};
