/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sink.h"
#include "util.h"

const struct sink_ops *sink_ops_for(enum conf_target target)
{
	switch (target) {
	case CONF_TARGET_MAILDIR:
		return &sink_maildir_ops;
	case CONF_TARGET_MBOX:
	case CONF_TARGET_MBOXDIR: /* each folder's file is one mbox */
		return &sink_mbox_ops;
	case CONF_TARGET_MDA:
		return &sink_mda_ops;
	}
	return NULL;
}

const struct sink_ops *sink_ops_named(const char *name)
{
	static const struct sink_ops *const all[] = {
	    &sink_maildir_ops, &sink_mbox_ops, &sink_mda_ops};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

const struct sink_ops *sink_ops_of_target(const char *target,
					  const char **path_r)
{
	const char *colon = strchr(target, ':');

	if (colon == NULL)
		return NULL;
	char *kind = xstrndup(target, (size_t)(colon - target));
	const struct sink_ops *ops = sink_ops_named(kind);
	free(kind);
	*path_r = colon + 1;
	return ops;
}

void sink_account_tag(const struct conf_account *acct,
		      char out[SINK_TAG_LEN + 1])
{
	unsigned char md[32];
	char hex[65];

	out[0] = '\0';
	if (acct == NULL)
		return;
	if (EVP_Digest(acct->name, strlen(acct->name), md, NULL, EVP_sha256(),
		       NULL) != 1)
		return;
	util_hex(md, sizeof(md), hex);
	memcpy(out, hex, SINK_TAG_LEN);
	out[SINK_TAG_LEN] = '\0';
}

int sink_hash_range(int fd, uint64_t off, uint64_t len, char out[65])
{
	unsigned char buf[64 * 1024], md[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ret = -1;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		errno = ENOMEM;
		goto out;
	}
	while (len > 0) {
		size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0) {
			errno = ENODATA;
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	EVP_DigestFinal_ex(ctx, md, NULL);
	util_hex(md, sizeof(md), out);
	ret = 0;
out:
	EVP_MD_CTX_free(ctx);
	return ret;
}
