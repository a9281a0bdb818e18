/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stddef.h>

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
