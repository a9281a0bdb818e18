/* SPDX-License-Identifier: ISC */
/* Network streams for libetpan: our own mailstream_low driver over a plain
 * socket or OpenSSL.  Every read that meets EOF fails, every wait has a
 * timeout, TLS verifies chain, host name and (optionally) a SHA-256 pin. */
#ifndef MAILHAUL_TLS_H
#define MAILHAUL_TLS_H

#include <stdbool.h>

#include "conf.h"
#include "util.h"

struct _mailstream_low;

/* Connects a TCP socket to HOST:PORT within TIMEOUT seconds and returns a
 * plain low stream in *low_r.  Returns 0, or -1 with *err_r (TEMP). */
int tls_connect_plain(const char *host, unsigned port, int timeout,
		      struct _mailstream_low **low_r, char **err_r);

/* Performs a TLS handshake on the socket of the plain low stream PLAIN and
 * verifies the server as ACCT configures.  On success *tls_r is a new low
 * stream on the same socket; PLAIN is then freed by the caller with
 * mailstream_low_free (it does not close the socket it shares).  Returns 0,
 * or -1 with *fail_r (AUTH for a refused certificate, TEMP otherwise) and
 * *err_r. */
int tls_start(struct _mailstream_low *plain, const struct conf_account *acct,
	      struct _mailstream_low **tls_r, enum util_fail *fail_r,
	      char **err_r);

/* Returns and clears the last error of a low stream of ours ("timeout
 * after 60 s", "connection closed by server", TLS errors), or NULL. */
char *tls_take_error(struct _mailstream_low *low);

#endif
