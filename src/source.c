/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stddef.h>

#include "auth.h"
#include "source.h"

const struct source_ops *source_ops_for(enum conf_protocol protocol)
{
	switch (protocol) {
	case CONF_PROTOCOL_POP3:
		return &source_pop3_ops;
	case CONF_PROTOCOL_IMAP:
		return &source_imap_ops;
	}
	return NULL;
}

int source_open_account(const struct source_ops *ops,
			const struct conf_account *acct, struct source **src_r,
			const struct source_folder **f_r, size_t *n_r,
			enum util_fail *fail_r, char **err_r)
{
	char *password = NULL;

	*fail_r = UTIL_FAIL_TEMP;
	if (auth_get_password(acct, &password, err_r) < 0) {
		*fail_r = UTIL_FAIL_AUTH;
		return -1;
	}
	int r = ops->open(acct, password, src_r, fail_r, err_r);
	util_free_secret(&password);
	if (r < 0 || ops->folders(*src_r, f_r, n_r, fail_r, err_r) < 0)
		return -1;
	return 0;
}
