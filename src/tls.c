/* SPDX-License-Identifier: ISC */
/* One mailstream_low driver for plain and TLS sockets.  libetpan's own TLS
 * (GnuTLS in Debian) verifies nothing, and its socket driver turns EOF into
 * an endless loop; this driver fails every read at EOF and bounds every wait
 * by the account's timeout. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libetpan/mailstream_low.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

struct netconn {
	int fd;
	bool owns_fd;      /* false once a TLS stream has taken the socket */
	int timeout_ms;
	SSL_CTX *ctx;
	SSL *ssl;
	char *err;
};

static void conn_set_error(struct netconn *c, char *msg)
{
	free(c->err);
	c->err = msg;
}

/* Waits until the socket is ready for EVENTS.  0, or -1 with c->err. */
static int conn_wait(struct netconn *c, short events)
{
	struct pollfd pfd = {.fd = c->fd, .events = events};
	for (;;) {
		int r = poll(&pfd, 1, c->timeout_ms);
		if (r > 0)
			return 0;
		if (r == 0) {
			conn_set_error(c, xasprintf("timeout after %d s",
						    c->timeout_ms / 1000));
			return -1;
		}
		if (errno != EINTR) {
			conn_set_error(c, xasprintf("poll: %s",
						    strerror(errno)));
			return -1;
		}
	}
}

static char *ssl_error_text(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e == 0)
		return xasprintf("TLS %s failed", what);
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return xasprintf("TLS %s: %s", what, buf);
}

/* Waits as an SSL call asked (WANT_READ/WANT_WRITE).  1 to retry, -1 on
 * error with c->err set. */
static int ssl_retry(struct netconn *c, int ret, const char *what)
{
	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return conn_wait(c, POLLIN) == 0 ? 1 : -1;
	case SSL_ERROR_WANT_WRITE:
		return conn_wait(c, POLLOUT) == 0 ? 1 : -1;
	case SSL_ERROR_ZERO_RETURN:
		conn_set_error(c, xstrdup("connection closed by server"));
		return -1;
	case SSL_ERROR_SYSCALL:
		conn_set_error(c, errno != 0 ? xasprintf("%s: %s", what,
							 strerror(errno))
					     : xstrdup("connection closed by "
						       "server"));
		ERR_clear_error();
		return -1;
	default:
		conn_set_error(c, ssl_error_text(what));
		return -1;
	}
}

static ssize_t conn_read(mailstream_low *low, void *buf, size_t count)
{
	struct netconn *c = low->data;

	for (;;) {
		if (c->ssl != NULL) {
			size_t n;
			errno = 0;
			int r = SSL_read_ex(c->ssl, buf, count, &n);
			if (r > 0)
				return (ssize_t)n;
			if (ssl_retry(c, r, "read") < 0)
				return -1;
			continue;
		}
		ssize_t n = read(c->fd, buf, count);
		if (n > 0)
			return n;
		if (n == 0) {
			conn_set_error(c,
				       xstrdup("connection closed by server"));
			return -1;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (conn_wait(c, POLLIN) < 0)
				return -1;
		} else if (errno != EINTR) {
			conn_set_error(c, xasprintf("read: %s",
						    strerror(errno)));
			return -1;
		}
	}
}

/* Writes one piece; returns bytes written (> 0) or -1. */
static ssize_t conn_write_some(struct netconn *c, const char *p, size_t len)
{
	for (;;) {
		if (c->ssl != NULL) {
			size_t n;
			errno = 0;
			int r = SSL_write_ex(c->ssl, p, len, &n);
			if (r > 0)
				return (ssize_t)n;
			if (ssl_retry(c, r, "write") < 0)
				return -1;
			continue;
		}
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (conn_wait(c, POLLOUT) < 0)
				return -1;
		} else if (errno != EINTR) {
			conn_set_error(c, xasprintf("write: %s",
						    strerror(errno)));
			return -1;
		}
	}
}

static ssize_t conn_write(mailstream_low *low, const void *buf, size_t count)
{
	struct netconn *c = low->data;
	size_t done = 0;

	while (done < count) {
		ssize_t n = conn_write_some(c, (const char *)buf + done,
					    count - done);
		if (n < 0)
			return -1;
		done += (size_t)n;
	}
	return (ssize_t)count;
}

static int conn_close(mailstream_low *low)
{
	struct netconn *c = low->data;

	if (c->ssl != NULL && c->owns_fd)
		SSL_shutdown(c->ssl); /* best effort close_notify */
	if (c->owns_fd && c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	return 0;
}

static int conn_get_fd(mailstream_low *low)
{
	struct netconn *c = low->data;
	return c->fd;
}

static void conn_free(mailstream_low *low)
{
	struct netconn *c = low->data;

	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	free(c->err);
	free(c);
	free(low);
}

static void conn_cancel(mailstream_low *low)
{
	struct netconn *c = low->data;
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
}

static struct mailstream_cancel *conn_get_cancel(mailstream_low *low)
{
	(void)low;
	return NULL;
}

static carray *conn_get_certificate_chain(mailstream_low *low)
{
	(void)low;
	return NULL;
}

/* -1 tells libetpan to fall back to select() on the fd for IDLE. */
static int conn_idle_unsupported(mailstream_low *low)
{
	(void)low;
	return -1;
}

static mailstream_low_driver conn_driver = {
	.mailstream_read = conn_read,
	.mailstream_write = conn_write,
	.mailstream_close = conn_close,
	.mailstream_get_fd = conn_get_fd,
	.mailstream_free = conn_free,
	.mailstream_cancel = conn_cancel,
	.mailstream_get_cancel = conn_get_cancel,
	.mailstream_get_certificate_chain = conn_get_certificate_chain,
	.mailstream_setup_idle = conn_idle_unsupported,
	.mailstream_unsetup_idle = conn_idle_unsupported,
	.mailstream_interrupt_idle = conn_idle_unsupported,
};

static struct _mailstream_low *conn_new(int fd, int timeout)
{
	struct netconn *c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->owns_fd = true;
	c->timeout_ms = timeout * 1000;
	mailstream_low *low = mailstream_low_new(c, &conn_driver);
	if (low == NULL) {
		static const char msg[] = "mailhaul: out of memory\n";
		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
		abort();
	}
	return low;
}

/* Connects one address within the timeout.  Returns the fd or -1. */
static int connect_addr(const struct addrinfo *ai, int timeout, int *errno_r)
{
	int fd = socket(ai->ai_family,
			ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	if (fd < 0) {
		*errno_r = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int r;
		do
			r = poll(&pfd, 1, timeout * 1000);
		while (r < 0 && errno == EINTR);
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		if (r == 0)
			soerr = ETIMEDOUT;
		else if (r < 0)
			soerr = errno;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr == 0)
			return fd;
		errno = soerr;
	}
	*errno_r = errno;
	close(fd);
	return -1;
}

int tls_connect_plain(const char *host, unsigned port, int timeout,
		      struct _mailstream_low **low_r, char **err_r)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_ADDRCONFIG};
	struct addrinfo *res;
	char service[16];

	snprintf(service, sizeof(service), "%u", port);
	int gai = getaddrinfo(host, service, &hints, &res);
	if (gai != 0) {
		*err_r = xasprintf("cannot resolve %s: %s", host,
				   gai_strerror(gai));
		return -1;
	}
	int fd = -1, err = 0;
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = connect_addr(ai, timeout, &err);
	freeaddrinfo(res);
	if (fd < 0) {
		*err_r = xasprintf("connect to %s:%u: %s", host, port,
				   strerror(err));
		return -1;
	}
	*low_r = conn_new(fd, timeout);
	return 0;
}

/* Builds the client context: TLS 1.2 minimum, peer verification against
 * CA_FILE or the system store. */
static SSL_CTX *tls_context(const struct conf_account *acct, char **err_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		*err_r = ssl_error_text("context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	int ok = acct->tls_ca_file != NULL
			 ? SSL_CTX_load_verify_locations(ctx, acct->tls_ca_file,
							 NULL)
			 : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		*err_r = acct->tls_ca_file != NULL
				 ? xasprintf("TLS: cannot load tls_ca_file %s",
					     acct->tls_ca_file)
				 : xstrdup("TLS: cannot load the system "
					   "certificate store");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Names the host the certificate must match: an IP address is checked
 * against the certificate's IP entries and never sent as SNI. */
static int tls_set_peer_name(SSL *ssl, const char *host)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
						     host) == 1
			       ? 0
			       : -1;
	if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
	    SSL_set1_host(ssl, host) != 1)
		return -1;
	return 0;
}

static void format_pin(const unsigned char *md, char *out)
{
	static const char digits[] = "0123456789ABCDEF";
	char *p = out + sprintf(out, "sha256:");
	for (int i = 0; i < 32; i++) {
		*p++ = digits[md[i] >> 4];
		*p++ = digits[md[i] & 15];
		*p++ = i < 31 ? ':' : '\0';
	}
}

/* Compares the leaf certificate with the configured pin. */
static int tls_check_pin(SSL *ssl, const struct conf_account *acct,
			 char **err_r)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	X509 *leaf = SSL_get0_peer_certificate(ssl);

	if (leaf == NULL || X509_digest(leaf, EVP_sha256(), md, &mdlen) != 1 ||
	    mdlen != 32) {
		*err_r = xstrdup("TLS: no server certificate to check "
				 "tls_fingerprint against");
		return -1;
	}
	if (CRYPTO_memcmp(md, acct->pin, 32) != 0) {
		char have[7 + 32 * 3 + 1];
		format_pin(md, have);
		*err_r = xasprintf("TLS: server certificate does not match "
				   "tls_fingerprint (server has %s)",
				   have);
		return -1;
	}
	return 0;
}

/* Runs the handshake; on a verification failure *fail_r is AUTH. */
static int tls_handshake(struct netconn *c, const struct conf_account *acct,
			 enum util_fail *fail_r, char **err_r)
{
	int r;

	while ((r = SSL_connect(c->ssl)) != 1) {
		int kind = SSL_get_error(c->ssl, r);
		long vr = SSL_get_verify_result(c->ssl);
		if (kind == SSL_ERROR_SSL && vr != X509_V_OK) {
			*fail_r = UTIL_FAIL_AUTH;
			*err_r = xasprintf("TLS: certificate of %s refused: %s",
					   acct->host,
					   X509_verify_cert_error_string(vr));
			ERR_clear_error();
			return -1;
		}
		if (ssl_retry(c, r, "handshake") < 0) {
			*fail_r = kind == SSL_ERROR_SSL ? UTIL_FAIL_AUTH
							: UTIL_FAIL_TEMP;
			*err_r = c->err;
			c->err = NULL;
			return -1;
		}
	}
	if (acct->has_pin && tls_check_pin(c->ssl, acct, err_r) < 0) {
		*fail_r = UTIL_FAIL_AUTH;
		return -1;
	}
	return 0;
}

int tls_start(struct _mailstream_low *plain, const struct conf_account *acct,
	      struct _mailstream_low **tls_r, enum util_fail *fail_r,
	      char **err_r)
{
	struct netconn *pc = plain->data;
	SSL_CTX *ctx = tls_context(acct, err_r);

	*fail_r = UTIL_FAIL_AUTH;
	if (ctx == NULL)
		return -1;
	mailstream_low *low = conn_new(pc->fd, pc->timeout_ms / 1000);
	struct netconn *c = low->data;
	c->ctx = ctx;
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    tls_set_peer_name(c->ssl, acct->host) < 0) {
		*err_r = ssl_error_text("setup");
		c->owns_fd = false;
		mailstream_low_free(low);
		return -1;
	}
	if (tls_handshake(c, acct, fail_r, err_r) < 0) {
		c->owns_fd = false;
		mailstream_low_free(low);
		return -1;
	}
	pc->owns_fd = false;
	*tls_r = low;
	return 0;
}

char *tls_take_error(struct _mailstream_low *low)
{
	if (low == NULL || low->driver != &conn_driver)
		return NULL;
	struct netconn *c = low->data;
	char *e = c->err;
	c->err = NULL;
	return e;
}
