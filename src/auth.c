/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "util.h"

#define AUTH_CMD_TIMEOUT_MS 30000
#define AUTH_CMD_MAX_OUTPUT 4096

/* Child side: stdin from /dev/null, stdout to the pipe, no shell. */
static void run_child(char **argv, int out_fd)
{
	int null_fd = open("/dev/null", O_RDONLY);
	if (null_fd >= 0)
		dup2(null_fd, STDIN_FILENO);
	dup2(out_fd, STDOUT_FILENO);
	execvp(argv[0], argv);
	_exit(127);
}

/* Reads the child's output until EOF, the size cap or the deadline. */
static int read_output(int fd, char *buf, size_t cap, size_t *len_r,
		       bool *timed_out_r)
{
	int64_t deadline = util_now_ms() + AUTH_CMD_TIMEOUT_MS;
	size_t len = 0;

	*timed_out_r = false;
	for (;;) {
		int64_t left = deadline - util_now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			*timed_out_r = true;
			return -1;
		}
		if (len == cap)
			break;
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	*len_r = len;
	return 0;
}

static char *describe_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 127
			       ? xstrdup("could not be run")
			       : xasprintf("exited with status %d",
					   WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return xasprintf("was killed by signal %d", WTERMSIG(status));
	return xstrdup("failed");
}

/* Runs CMD and returns the first line of its output in *secret_r. */
static int run_password_command(const char *cmd, char **secret_r,
				char **err_r)
{
	char **argv = NULL, buf[AUTH_CMD_MAX_OUTPUT + 1];
	int pfd[2], status = 0;
	size_t len = 0;
	bool timed_out;

	if (util_argv_split(cmd, &argv, err_r) < 0)
		return -1;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		*err_r = xasprintf("password_command: pipe: %s",
				   strerror(errno));
		util_argv_free(&argv);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0)
		run_child(argv, pfd[1]);
	close(pfd[1]);
	int r = pid < 0 ? -1
			: read_output(pfd[0], buf, AUTH_CMD_MAX_OUTPUT, &len,
				      &timed_out);
	close(pfd[0]);
	if (pid > 0) {
		if (r < 0)
			kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	buf[len] = '\0';
	char *nl = strchr(buf, '\n');
	if (nl != NULL)
		*nl = '\0';
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	bool ok = pid > 0 && r == 0 && status == 0 && len > 0;
	if (ok) {
		*secret_r = xstrdup(buf);
	} else {
		char *why = pid < 0 ? xasprintf("fork: %s", strerror(errno))
			    : r < 0 ? xasprintf("timed out after %d s",
						AUTH_CMD_TIMEOUT_MS / 1000)
			    : status != 0 ? describe_status(status)
					  : xstrdup("printed no password");
		*err_r = xasprintf("password_command \"%s\" %s", argv[0], why);
		free(why);
	}
	explicit_bzero(buf, sizeof(buf));
	util_argv_free(&argv);
	return ok ? 0 : -1;
}

int auth_get_password(const struct conf_account *acct, char **secret_r,
		      char **err_r)
{
	*secret_r = NULL;
	if (acct->password != NULL) {
		*secret_r = xstrdup(acct->password);
		return 0;
	}
	return run_password_command(acct->password_command, secret_r, err_r);
}
