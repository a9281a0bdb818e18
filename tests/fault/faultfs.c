/* SPDX-License-Identifier: ISC */
/* faultfs: an LD_PRELOAD shim of the test suite's own that makes storage
 * calls on the archive fail, one at a time, so that a test can prove that
 * no storage fault loses or duplicates a message.
 *
 *   cc -shared -fPIC -O2 -o faultfs.so faultfs.c -ldl
 *   LD_PRELOAD=./faultfs.so FAULT_PATH=/archive FAULT_OP=write FAULT_NTH=3 \
 *       mailhaul ...
 *
 * Only calls on archive paths count: paths at or under FAULT_PATH (for
 * rename and link either path), and file descriptors that refer to such a
 * path (an unlinked or O_TMPFILE file in a directory under it included).
 *
 *   FAULT_PATH=DIR   the archive (a directory or a file); unset: the shim
 *                    does nothing
 *   FAULT_OP=KIND    which calls count: write (write, pwrite, pwrite64,
 *                    writev, pwritev, copy_file_range, sendfile, splice
 *                    into an archive fd), fsync (fsync, fdatasync), rename
 *                    (rename, renameat, renameat2), link (link, linkat),
 *                    close (of a descriptor open for writing: the only
 *                    kind whose close can report a lost write), truncate
 *                    (ftruncate), any (all of them)
 *   FAULT_NTH=N      fail the N-th counted call (1-based); 0 or unset: never
 *   FAULT_ERRNO=E    EIO (default), ENOSPC, EDQUOT, EROFS, or a number
 *   FAULT_SHORT=1    the N-th call, a write, writes only half its bytes and
 *                    returns that count instead of failing
 *   FAULT_LOG=FILE   appends "KIND FUNCTION PATH" for every counted call,
 *                    and "FAULT KIND FUNCTION PATH" (or "SHORT ...") after
 *                    the one that was made to fail
 *
 * A failed call has no effect: the real function is not called (close is
 * the exception: as on Linux, the descriptor is gone even when close
 * fails).  The counter is atomic; nothing here allocates after the first
 * call. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif

enum faultfs_kind {
	FAULTFS_WRITE,
	FAULTFS_FSYNC,
	FAULTFS_RENAME,
	FAULTFS_LINK,
	FAULTFS_CLOSE,
	FAULTFS_TRUNCATE,
	FAULTFS_ANY,
	FAULTFS_NONE,
};

static const char *const faultfs_kind_names[] = {
    [FAULTFS_WRITE] = "write",	 [FAULTFS_FSYNC] = "fsync",
    [FAULTFS_RENAME] = "rename", [FAULTFS_LINK] = "link",
    [FAULTFS_CLOSE] = "close",	 [FAULTFS_TRUNCATE] = "truncate",
    [FAULTFS_ANY] = "any",	 [FAULTFS_NONE] = "none",
};

/* What an intercepted call is to do. */
enum faultfs_verdict {
	FAULTFS_PASS,  /* call the real function */
	FAULTFS_FAIL,  /* return -1 with the configured errno */
	FAULTFS_SHORT, /* write half of the bytes */
};

/* ------------------------------------------------------------ real calls */

#define REAL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__);

REAL(int, open, const char *, int, ...)
REAL(int, open64, const char *, int, ...)
REAL(int, openat, int, const char *, int, ...)
REAL(int, openat64, int, const char *, int, ...)
REAL(int, creat, const char *, mode_t)
REAL(int, creat64, const char *, mode_t)
REAL(int, mkstemp, char *)
REAL(int, mkostemp, char *, int)
REAL(int, mkstemps, char *, int)
REAL(int, mkostemps, char *, int, int)
REAL(int, close, int)
REAL(ssize_t, write, int, const void *, size_t)
REAL(ssize_t, pwrite, int, const void *, size_t, off_t)
REAL(ssize_t, pwrite64, int, const void *, size_t, off64_t)
REAL(ssize_t, writev, int, const struct iovec *, int)
REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t)
REAL(ssize_t, pwritev64, int, const struct iovec *, int, off64_t)
REAL(ssize_t, copy_file_range, int, off64_t *, int, off64_t *, size_t, unsigned)
REAL(ssize_t, sendfile, int, int, off_t *, size_t)
REAL(ssize_t, sendfile64, int, int, off64_t *, size_t)
REAL(ssize_t, splice, int, off64_t *, int, off64_t *, size_t, unsigned)
REAL(int, fsync, int)
REAL(int, fdatasync, int)
REAL(int, ftruncate, int, off_t)
REAL(int, ftruncate64, int, off64_t)
REAL(int, rename, const char *, const char *)
REAL(int, renameat, int, const char *, int, const char *)
REAL(int, renameat2, int, const char *, int, const char *, unsigned)
REAL(int, link, const char *, const char *)
REAL(int, linkat, int, const char *, int, const char *, int)

/* Resolves real_NAME on first use (a constructor does it for all of them
 * first; this covers calls made before it ran). */
#define RESOLVE(name)                                                          \
	do {                                                                   \
		if (real_##name == NULL)                                       \
			*(void **)&real_##name = dlsym(RTLD_NEXT, #name);      \
	} while (0)

/* ------------------------------------------------------------ settings */

static char faultfs_prefix[PATH_MAX];
static size_t faultfs_prefix_len;
static enum faultfs_kind faultfs_op = FAULTFS_NONE;
static long faultfs_nth;
static int faultfs_errno = EIO;
static bool faultfs_short;
static int faultfs_log_fd = -1;
static atomic_long faultfs_count;
/* 0 = not yet, 1 = in progress, 2 = done */
static atomic_int faultfs_inited;

/* What we know of a file descriptor: whether it refers to an archive
 * path, valid while the file is the same (device and inode). */
#define FAULTFS_FDS 4096
struct faultfs_fd {
	_Atomic int state; /* 0 unknown, 1 archive, 2 not */
	_Atomic dev_t dev;
	_Atomic ino_t ino;
};
static struct faultfs_fd faultfs_fds[FAULTFS_FDS];

static void faultfs_resolve_all(void)
{
	RESOLVE(open);
	RESOLVE(open64);
	RESOLVE(openat);
	RESOLVE(openat64);
	RESOLVE(creat);
	RESOLVE(creat64);
	RESOLVE(mkstemp);
	RESOLVE(mkostemp);
	RESOLVE(mkstemps);
	RESOLVE(mkostemps);
	RESOLVE(close);
	RESOLVE(write);
	RESOLVE(pwrite);
	RESOLVE(pwrite64);
	RESOLVE(writev);
	RESOLVE(pwritev);
	RESOLVE(pwritev64);
	RESOLVE(copy_file_range);
	RESOLVE(sendfile);
	RESOLVE(sendfile64);
	RESOLVE(splice);
	RESOLVE(fsync);
	RESOLVE(fdatasync);
	RESOLVE(ftruncate);
	RESOLVE(ftruncate64);
	RESOLVE(rename);
	RESOLVE(renameat);
	RESOLVE(renameat2);
	RESOLVE(link);
	RESOLVE(linkat);
}

static enum faultfs_kind faultfs_parse_op(const char *s)
{
	if (s == NULL || *s == '\0')
		return FAULTFS_ANY;
	for (int k = FAULTFS_WRITE; k <= FAULTFS_ANY; k++)
		if (strcmp(s, faultfs_kind_names[k]) == 0)
			return (enum faultfs_kind)k;
	return FAULTFS_NONE;
}

static int faultfs_parse_errno(const char *s)
{
	static const struct {
		const char *name;
		int value;
	} names[] = {
	    {"EIO", EIO},	{"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT},
	    {"EROFS", EROFS},	{"EFBIG", EFBIG},   {"EPERM", EPERM},
	    {"EACCES", EACCES}, {"EINTR", EINTR},   {"EAGAIN", EAGAIN},
	};

	if (s == NULL || *s == '\0')
		return EIO;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].value;
	char *end;
	long v = strtol(s, &end, 10);
	return *end == '\0' && v > 0 && v < 4096 ? (int)v : EIO;
}

/* Sets faultfs_prefix to the canonical form of PATH; the archive may not
 * exist yet, its parent should. */
static void faultfs_set_prefix(const char *path)
{
	char buf[PATH_MAX];

	if (realpath(path, buf) == NULL) {
		const char *slash = strrchr(path, '/');
		char parent[PATH_MAX];
		if (slash != NULL && slash != path &&
		    (size_t)(slash - path) < sizeof(parent)) {
			memcpy(parent, path, (size_t)(slash - path));
			parent[slash - path] = '\0';
			if (realpath(parent, buf) == NULL ||
			    strlen(buf) + strlen(slash) >= sizeof(buf))
				snprintf(buf, sizeof(buf), "%s", path);
			else
				strcat(buf, slash);
		} else {
			snprintf(buf, sizeof(buf), "%s", path);
		}
	}
	size_t n = strlen(buf);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	memcpy(faultfs_prefix, buf, n + 1);
	faultfs_prefix_len = n;
}

static void faultfs_init(void)
{
	int expect = 0;

	if (atomic_load(&faultfs_inited) == 2)
		return;
	if (!atomic_compare_exchange_strong(&faultfs_inited, &expect, 1)) {
		/* Another thread is at it (or we re-entered from dlsym):
		 * go on with what is set; real_* are resolved lazily. */
		return;
	}
	faultfs_resolve_all();
	const char *path = getenv("FAULT_PATH");
	if (path != NULL && *path != '\0') {
		faultfs_set_prefix(path);
		faultfs_op = faultfs_parse_op(getenv("FAULT_OP"));
		const char *nth = getenv("FAULT_NTH");
		faultfs_nth = nth != NULL ? strtol(nth, NULL, 10) : 0;
		faultfs_errno = faultfs_parse_errno(getenv("FAULT_ERRNO"));
		const char *sh = getenv("FAULT_SHORT");
		faultfs_short = sh != NULL && strcmp(sh, "1") == 0;
		const char *log = getenv("FAULT_LOG");
		if (log != NULL && *log != '\0' && real_open != NULL)
			faultfs_log_fd = real_open(
			    log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			    0644);
	}
	atomic_store(&faultfs_inited, 2);
}

__attribute__((constructor)) static void faultfs_ctor(void)
{
	faultfs_init();
}

static bool faultfs_active(void)
{
	faultfs_init();
	return atomic_load(&faultfs_inited) == 2 && faultfs_prefix_len > 0;
}

/* ------------------------------------------------------------ paths */

/* Is the canonical-looking PATH at or under the prefix? */
static bool faultfs_under(const char *path)
{
	size_t n = faultfs_prefix_len;

	if (n == 0 || strncmp(path, faultfs_prefix, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/' ||
	       (n == 1 && faultfs_prefix[0] == '/');
}

/* Writes into BUF (PATH_MAX) the path fd FD refers to; "(deleted)" and
 * the like stay on, they do not change what is under the prefix.
 * Returns false if it cannot be known. */
static bool faultfs_fd_path(int fd, char *buf)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, buf, PATH_MAX - 1);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* Writes into BUF (PATH_MAX) the absolute form of PATH seen from DIRFD.
 * Returns false if it cannot be made. */
static bool faultfs_abs(int dirfd, const char *path, char *buf)
{
	char dir[PATH_MAX];

	if (path == NULL)
		return false;
	if (path[0] == '/') {
		snprintf(buf, PATH_MAX, "%s", path);
		return true;
	}
	if (dirfd == AT_FDCWD) {
		if (getcwd(dir, sizeof(dir)) == NULL)
			return false;
	} else if (!faultfs_fd_path(dirfd, dir)) {
		return false;
	}
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dir[--dl] = '\0';
	if (path[0] == '\0') /* AT_EMPTY_PATH */
		return snprintf(buf, PATH_MAX, "%s", dir) < PATH_MAX;
	return snprintf(buf, PATH_MAX, "%s/%s", dir, path) < PATH_MAX;
}

/* Removes "//", "/./" and trailing "/" (not "..": the archive paths the
 * tests use have none). */
static void faultfs_tidy(char *p)
{
	char *r = p, *w = p;

	while (*r != '\0') {
		if (r[0] == '/' && r[1] == '/') {
			r++;
			continue;
		}
		if (r[0] == '/' && r[1] == '.' &&
		    (r[2] == '/' || r[2] == '\0')) {
			r += 2;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
	while (w - p > 1 && w[-1] == '/')
		*--w = '\0';
}

static bool faultfs_path_under(int dirfd, const char *path, char *buf)
{
	if (!faultfs_abs(dirfd, path, buf))
		return false;
	faultfs_tidy(buf);
	return faultfs_under(buf);
}

static void faultfs_fd_set(int fd, bool archive)
{
	struct stat st;

	if (fd < 0 || fd >= FAULTFS_FDS)
		return;
	struct faultfs_fd *e = &faultfs_fds[fd];
	if (fstat(fd, &st) < 0) {
		atomic_store(&e->state, 0);
		return;
	}
	atomic_store(&e->dev, st.st_dev);
	atomic_store(&e->ino, st.st_ino);
	atomic_store(&e->state, archive ? 1 : 2);
}

static void faultfs_fd_forget(int fd)
{
	if (fd >= 0 && fd < FAULTFS_FDS)
		atomic_store(&faultfs_fds[fd].state, 0);
}

/* Does FD refer to an archive file?  What open saw is trusted while the
 * descriptor still names the same file; anything else (a descriptor made
 * by a call we do not see, or reused since) is looked up in /proc. */
static bool faultfs_fd_under(int fd)
{
	struct stat st;
	char buf[PATH_MAX];

	if (fd < 0)
		return false;
	if (fd < FAULTFS_FDS) {
		struct faultfs_fd *e = &faultfs_fds[fd];
		int state = atomic_load(&e->state);
		if (state != 0 && fstat(fd, &st) == 0 &&
		    st.st_dev == atomic_load(&e->dev) &&
		    st.st_ino == atomic_load(&e->ino))
			return state == 1;
	}
	bool under = faultfs_fd_path(fd, buf) && faultfs_under(buf);
	faultfs_fd_set(fd, under);
	return under;
}

/* After a successful open of PATH (seen from DIRFD) as FD. */
static void faultfs_opened(int fd, int dirfd, const char *path)
{
	char buf[PATH_MAX];

	if (fd < 0 || !faultfs_active())
		return;
	faultfs_fd_set(fd, faultfs_path_under(dirfd, path, buf));
}

/* ------------------------------------------------------------ counting */

static void faultfs_log(const char *tag, enum faultfs_kind kind,
			const char *func, const char *path)
{
	char line[PATH_MAX + 128];

	if (faultfs_log_fd < 0 || real_write == NULL)
		return;
	int n =
	    snprintf(line, sizeof(line), "%s%s%s %s %s\n", tag, *tag ? " " : "",
		     faultfs_kind_names[kind], func, path != NULL ? path : "?");
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	int saved = errno;
	(void)!real_write(faultfs_log_fd, line, (size_t)n);
	errno = saved;
}

/* One call of KIND on the archive PATH (fd-based calls pass FD and a
 * NULL path): counts it and says what to do. */
static enum faultfs_verdict faultfs_count_call(enum faultfs_kind kind,
					       const char *func, int fd,
					       const char *path)
{
	char buf[PATH_MAX];

	if (faultfs_op != FAULTFS_ANY && faultfs_op != kind)
		return FAULTFS_PASS;
	long n = atomic_fetch_add(&faultfs_count, 1) + 1;
	if (path == NULL && faultfs_log_fd >= 0)
		path = faultfs_fd_path(fd, buf) ? buf : "?";
	faultfs_log("", kind, func, path);
	if (faultfs_nth <= 0 || n != faultfs_nth)
		return FAULTFS_PASS;
	if (faultfs_short && kind == FAULTFS_WRITE) {
		faultfs_log("SHORT", kind, func, path);
		return FAULTFS_SHORT;
	}
	faultfs_log("FAULT", kind, func, path);
	return FAULTFS_FAIL;
}

static enum faultfs_verdict faultfs_fd_call(enum faultfs_kind kind,
					    const char *func, int fd)
{
	if (!faultfs_active() || !faultfs_fd_under(fd))
		return FAULTFS_PASS;
	return faultfs_count_call(kind, func, fd, NULL);
}

/* rename and link: the call counts if either path is an archive path. */
static enum faultfs_verdict faultfs_paths_call(enum faultfs_kind kind,
					       const char *func, int fd1,
					       const char *p1, int fd2,
					       const char *p2)
{
	char b1[PATH_MAX], b2[PATH_MAX];

	if (!faultfs_active())
		return FAULTFS_PASS;
	if (faultfs_path_under(fd2, p2, b2))
		return faultfs_count_call(kind, func, -1, b2);
	if (faultfs_path_under(fd1, p1, b1))
		return faultfs_count_call(kind, func, -1, b1);
	return FAULTFS_PASS;
}

static int faultfs_fail(void)
{
	errno = faultfs_errno;
	return -1;
}

static size_t faultfs_half(size_t len)
{
	return len > 1 ? len / 2 : len;
}

/* ------------------------------------------------------------ open */

static bool faultfs_needs_mode(int flags)
{
	return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
}

#define MODE_ARG(flags, mode)                                                  \
	do {                                                                   \
		if (faultfs_needs_mode(flags)) {                               \
			va_list ap;                                            \
			va_start(ap, flags);                                   \
			mode = va_arg(ap, mode_t);                             \
			va_end(ap);                                            \
		}                                                              \
	} while (0)

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	MODE_ARG(flags, mode);
	RESOLVE(open);
	int fd = real_open(path, flags, mode);
	int saved = errno;
	faultfs_opened(fd, AT_FDCWD, path);
	errno = saved;
	return fd;
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	MODE_ARG(flags, mode);
	RESOLVE(open64);
	int fd = real_open64(path, flags, mode);
	int saved = errno;
	faultfs_opened(fd, AT_FDCWD, path);
	errno = saved;
	return fd;
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	MODE_ARG(flags, mode);
	RESOLVE(openat);
	int fd = real_openat(dirfd, path, flags, mode);
	int saved = errno;
	faultfs_opened(fd, dirfd, path);
	errno = saved;
	return fd;
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	MODE_ARG(flags, mode);
	RESOLVE(openat64);
	int fd = real_openat64(dirfd, path, flags, mode);
	int saved = errno;
	faultfs_opened(fd, dirfd, path);
	errno = saved;
	return fd;
}

/* The _FORTIFY_SOURCE entry points (no O_CREAT, hence no mode). */
int __open_2(const char *path, int flags)
{
	return open(path, flags);
}

int __open64_2(const char *path, int flags)
{
	return open64(path, flags);
}

int __openat_2(int dirfd, const char *path, int flags)
{
	return openat(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	return openat64(dirfd, path, flags);
}

int creat(const char *path, mode_t mode)
{
	RESOLVE(creat);
	int fd = real_creat(path, mode);
	int saved = errno;
	faultfs_opened(fd, AT_FDCWD, path);
	errno = saved;
	return fd;
}

int creat64(const char *path, mode_t mode)
{
	RESOLVE(creat64);
	int fd = real_creat64(path, mode);
	int saved = errno;
	faultfs_opened(fd, AT_FDCWD, path);
	errno = saved;
	return fd;
}

/* glibc's mkstemp family opens through an internal call we cannot see. */
int mkstemp(char *tmpl)
{
	RESOLVE(mkstemp);
	int fd = real_mkstemp(tmpl);
	int saved = errno;
	faultfs_opened(fd, AT_FDCWD, tmpl);
	errno = saved;
	return fd;
}

int mkostemp(char *tmpl, int flags)
{
	RESOLVE(mkostemp);
	int fd = real_mkostemp(tmpl, flags);
	int saved = errno;
	faultfs_opened(fd, AT_FDCWD, tmpl);
	errno = saved;
	return fd;
}

int mkstemps(char *tmpl, int suffixlen)
{
	RESOLVE(mkstemps);
	int fd = real_mkstemps(tmpl, suffixlen);
	int saved = errno;
	faultfs_opened(fd, AT_FDCWD, tmpl);
	errno = saved;
	return fd;
}

int mkostemps(char *tmpl, int suffixlen, int flags)
{
	RESOLVE(mkostemps);
	int fd = real_mkostemps(tmpl, suffixlen, flags);
	int saved = errno;
	faultfs_opened(fd, AT_FDCWD, tmpl);
	errno = saved;
	return fd;
}

/* ------------------------------------------------------------ close */

/* Is FD open for writing? */
static bool faultfs_writable(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_PATH) == 0 && (fl & O_ACCMODE) != O_RDONLY;
}

int close(int fd)
{
	enum faultfs_verdict v = FAULTFS_PASS;

	RESOLVE(close);
	if (faultfs_active() && faultfs_writable(fd))
		v = faultfs_fd_call(FAULTFS_CLOSE, "close", fd);
	faultfs_fd_forget(fd);
	int r = real_close(fd);
	if (v == FAULTFS_FAIL)
		return faultfs_fail();
	return r;
}

/* ------------------------------------------------------------ writes */

ssize_t write(int fd, const void *buf, size_t len)
{
	RESOLVE(write);
	switch (faultfs_fd_call(FAULTFS_WRITE, "write", fd)) {
	case FAULTFS_FAIL:
		return faultfs_fail();
	case FAULTFS_SHORT:
		return real_write(fd, buf, faultfs_half(len));
	case FAULTFS_PASS:
		break;
	}
	return real_write(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	RESOLVE(pwrite);
	switch (faultfs_fd_call(FAULTFS_WRITE, "pwrite", fd)) {
	case FAULTFS_FAIL:
		return faultfs_fail();
	case FAULTFS_SHORT:
		return real_pwrite(fd, buf, faultfs_half(len), off);
	case FAULTFS_PASS:
		break;
	}
	return real_pwrite(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	RESOLVE(pwrite64);
	switch (faultfs_fd_call(FAULTFS_WRITE, "pwrite64", fd)) {
	case FAULTFS_FAIL:
		return faultfs_fail();
	case FAULTFS_SHORT:
		return real_pwrite64(fd, buf, faultfs_half(len), off);
	case FAULTFS_PASS:
		break;
	}
	return real_pwrite64(fd, buf, len, off);
}

/* Copies into OUT (room for CNT) the first half of the bytes of IOV.
 * Returns the new count. */
static int faultfs_half_iov(const struct iovec *iov, int cnt, struct iovec *out)
{
	size_t total = 0;

	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	size_t want = faultfs_half(total);
	int n = 0;
	for (int i = 0; i < cnt && want > 0; i++) {
		out[n] = iov[i];
		if (out[n].iov_len > want)
			out[n].iov_len = want;
		want -= out[n].iov_len;
		n++;
	}
	return n;
}

#define IOV_ROOM 1024

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	struct iovec half[IOV_ROOM];

	RESOLVE(writev);
	switch (faultfs_fd_call(FAULTFS_WRITE, "writev", fd)) {
	case FAULTFS_FAIL:
		return faultfs_fail();
	case FAULTFS_SHORT:
		if (cnt > 0 && cnt <= IOV_ROOM)
			return real_writev(fd, half,
					   faultfs_half_iov(iov, cnt, half));
		break;
	case FAULTFS_PASS:
		break;
	}
	return real_writev(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	struct iovec half[IOV_ROOM];

	RESOLVE(pwritev);
	switch (faultfs_fd_call(FAULTFS_WRITE, "pwritev", fd)) {
	case FAULTFS_FAIL:
		return faultfs_fail();
	case FAULTFS_SHORT:
		if (cnt > 0 && cnt <= IOV_ROOM)
			return real_pwritev(
			    fd, half, faultfs_half_iov(iov, cnt, half), off);
		break;
	case FAULTFS_PASS:
		break;
	}
	return real_pwritev(fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	struct iovec half[IOV_ROOM];

	RESOLVE(pwritev64);
	switch (faultfs_fd_call(FAULTFS_WRITE, "pwritev64", fd)) {
	case FAULTFS_FAIL:
		return faultfs_fail();
	case FAULTFS_SHORT:
		if (cnt > 0 && cnt <= IOV_ROOM)
			return real_pwritev64(
			    fd, half, faultfs_half_iov(iov, cnt, half), off);
		break;
	case FAULTFS_PASS:
		break;
	}
	return real_pwritev64(fd, iov, cnt, off);
}

/* Copies in the kernel write into the archive too (an mbox append from a
 * spool file may use them). */
ssize_t copy_file_range(int in, off64_t *in_off, int out, off64_t *out_off,
			size_t len, unsigned flags)
{
	RESOLVE(copy_file_range);
	switch (faultfs_fd_call(FAULTFS_WRITE, "copy_file_range", out)) {
	case FAULTFS_FAIL:
		return faultfs_fail();
	case FAULTFS_SHORT:
		len = faultfs_half(len);
		break;
	case FAULTFS_PASS:
		break;
	}
	return real_copy_file_range(in, in_off, out, out_off, len, flags);
}

ssize_t sendfile(int out, int in, off_t *off, size_t len)
{
	RESOLVE(sendfile);
	switch (faultfs_fd_call(FAULTFS_WRITE, "sendfile", out)) {
	case FAULTFS_FAIL:
		return faultfs_fail();
	case FAULTFS_SHORT:
		len = faultfs_half(len);
		break;
	case FAULTFS_PASS:
		break;
	}
	return real_sendfile(out, in, off, len);
}

ssize_t sendfile64(int out, int in, off64_t *off, size_t len)
{
	RESOLVE(sendfile64);
	switch (faultfs_fd_call(FAULTFS_WRITE, "sendfile64", out)) {
	case FAULTFS_FAIL:
		return faultfs_fail();
	case FAULTFS_SHORT:
		len = faultfs_half(len);
		break;
	case FAULTFS_PASS:
		break;
	}
	return real_sendfile64(out, in, off, len);
}

ssize_t splice(int in, off64_t *in_off, int out, off64_t *out_off, size_t len,
	       unsigned flags)
{
	RESOLVE(splice);
	switch (faultfs_fd_call(FAULTFS_WRITE, "splice", out)) {
	case FAULTFS_FAIL:
		return faultfs_fail();
	case FAULTFS_SHORT:
		len = faultfs_half(len);
		break;
	case FAULTFS_PASS:
		break;
	}
	return real_splice(in, in_off, out, out_off, len, flags);
}

/* ------------------------------------------------------------ sync, size */

int fsync(int fd)
{
	RESOLVE(fsync);
	if (faultfs_fd_call(FAULTFS_FSYNC, "fsync", fd) == FAULTFS_FAIL)
		return faultfs_fail();
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	RESOLVE(fdatasync);
	if (faultfs_fd_call(FAULTFS_FSYNC, "fdatasync", fd) == FAULTFS_FAIL)
		return faultfs_fail();
	return real_fdatasync(fd);
}

int ftruncate(int fd, off_t len)
{
	RESOLVE(ftruncate);
	if (faultfs_fd_call(FAULTFS_TRUNCATE, "ftruncate", fd) == FAULTFS_FAIL)
		return faultfs_fail();
	return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off64_t len)
{
	RESOLVE(ftruncate64);
	if (faultfs_fd_call(FAULTFS_TRUNCATE, "ftruncate64", fd) ==
	    FAULTFS_FAIL)
		return faultfs_fail();
	return real_ftruncate64(fd, len);
}

/* ------------------------------------------------------------ names */

int rename(const char *from, const char *to)
{
	RESOLVE(rename);
	if (faultfs_paths_call(FAULTFS_RENAME, "rename", AT_FDCWD, from,
			       AT_FDCWD, to) == FAULTFS_FAIL)
		return faultfs_fail();
	return real_rename(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	RESOLVE(renameat);
	if (faultfs_paths_call(FAULTFS_RENAME, "renameat", fromfd, from, tofd,
			       to) == FAULTFS_FAIL)
		return faultfs_fail();
	return real_renameat(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to,
	      unsigned flags)
{
	RESOLVE(renameat2);
	if (faultfs_paths_call(FAULTFS_RENAME, "renameat2", fromfd, from, tofd,
			       to) == FAULTFS_FAIL)
		return faultfs_fail();
	return real_renameat2(fromfd, from, tofd, to, flags);
}

int link(const char *from, const char *to)
{
	RESOLVE(link);
	if (faultfs_paths_call(FAULTFS_LINK, "link", AT_FDCWD, from, AT_FDCWD,
			       to) == FAULTFS_FAIL)
		return faultfs_fail();
	return real_link(from, to);
}

int linkat(int fromfd, const char *from, int tofd, const char *to, int flags)
{
	RESOLVE(linkat);
	if (faultfs_paths_call(FAULTFS_LINK, "linkat", fromfd, from, tofd,
			       to) == FAULTFS_FAIL)
		return faultfs_fail();
	return real_linkat(fromfd, from, tofd, to, flags);
}
