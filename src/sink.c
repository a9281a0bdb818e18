/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stddef.h>

#include "sink.h"

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
