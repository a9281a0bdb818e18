/* SPDX-License-Identifier: ISC */
/* Placeholder until the IMAP source lands: refuses to open. */
#include "config.h"

#include "source_imap.h"

static int imap_open(const struct conf_account *acct, const char *password,
		     struct source **src_r, enum util_fail *fail_r,
		     char **err_r)
{
	(void)acct;
	(void)password;
	(void)src_r;
	*fail_r = UTIL_FAIL_CONFIG;
	*err_r = xstrdup("protocol imap is not supported yet");
	return -1;
}

const struct source_ops source_imap_ops = {
	.name = "imap",
	.open = imap_open,
};
