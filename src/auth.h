/* SPDX-License-Identifier: ISC */
/* Secrets: the password from the config or from password_command. */
#ifndef MAILHAUL_AUTH_H
#define MAILHAUL_AUTH_H

#include "conf.h"

/* Returns the account's password in *secret_r (free with
 * util_free_secret).  password_command is run without a shell with a
 * timeout; its first line of output is the password.  Returns 0, or -1
 * with *err_r naming the command and the cause. */
int auth_get_password(const struct conf_account *acct, char **secret_r,
		      char **err_r);

#endif
