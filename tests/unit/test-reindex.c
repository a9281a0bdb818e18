/* SPDX-License-Identifier: ISC */
/* The pure parts of reindex: header fields, Message-ID, size fits. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reindex.h"
#include "tap.h"

#define N_OF(a) (sizeof(a) / sizeof(*(a)))

static void test_field_starts(void)
{
	static const struct {
		const char *hdr;
		size_t n;
		size_t starts[4];
		const char *what;
	} cases[] = {
	    {"A: 1\nB: 2\n\n", 2, {0, 5}, "two fields, empty line not one"},
	    {"A: 1\n\tmore\n  more\nB: 2\n\n", 2, {0, 18},
	     "continuation lines belong to their field"},
	    {"A: 1\nB: 2", 2, {0, 5}, "no empty line, no final newline"},
	    {"\n", 0, {0}, "an empty header section"},
	    {"", 0, {0}, "nothing"},
	    {" odd\nA: 1\n\n", 2, {0, 5}, "a first line starting blank"},
	    {"A: 1\nB: 2\nC: 3\nD: 4\nE: 5\n\n", 4, {0, 5, 10, 15},
	     "stops at MAX"},
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		size_t starts[4] = {0};
		size_t n = reindex_field_starts(cases[i].hdr,
						strlen(cases[i].hdr), starts, 4);
		tap_ok(n == cases[i].n &&
			   memcmp(starts, cases[i].starts,
				  n * sizeof(*starts)) == 0,
		       cases[i].what);
	}
}

static void test_message_id(void)
{
	static const struct {
		const char *hdr;
		const char *id; /* NULL: none */
		const char *what;
	} cases[] = {
	    {"Subject: x\nMessage-ID: <a@b>\n\n", "<a@b>", "plain"},
	    {"message-id:<a@b>\n\n", "<a@b>", "any case, no blank"},
	    {"MESSAGE-ID:  \t<a@b> \t\n\n", "<a@b>", "blanks trimmed"},
	    {"Message-ID:\n <a@b>\n\n", "<a@b>", "folded value"},
	    {"Message-ID: <a@b>\r\n\r\n", "<a@b>", "CR dropped"},
	    {"Subject: x\n\nMessage-ID: <body@b>\n", NULL,
	     "not from the body"},
	    {"X-Message-ID: <a@b>\n\n", NULL, "another field"},
	    {"Subject: x\n Message-ID: <a@b>\n\n", NULL,
	     "not from a continuation line"},
	    {"Message-ID:   \n\n", NULL, "empty value"},
	    {"Message-ID: <1@b>\nMessage-ID: <2@b>\n\n", "<1@b>",
	     "the first of two"},
	    {"Message-ID: <a@b>", "<a@b>", "no line end at all"},
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		char *id = NULL;
		reindex_message_id(cases[i].hdr, strlen(cases[i].hdr), &id);
		tap_ok(cases[i].id == NULL ? id == NULL
					   : id != NULL &&
						 strcmp(id, cases[i].id) == 0,
		       cases[i].what);
		free(id);
	}
}

static void test_size_fits(void)
{
	static const struct {
		uint64_t listed, size, lf;
		bool ends_nl, fits;
		const char *what;
	} cases[] = {
	    {110, 100, 10, true, true, "CRLF counted"},
	    {100, 100, 10, true, true, "bytes as stored"},
	    {108, 100, 10, true, true, "final newline added on delivery"},
	    {99, 100, 10, true, true, "final newline added, LF counted"},
	    {108, 100, 10, false, false, "no newline was added"},
	    {109, 100, 10, true, false, "one off"},
	    {111, 100, 10, true, false, "one more"},
	    {0, 0, 0, false, true, "empty"},
	    {1, 1, 1, true, true, "a lone newline"},
	};
	for (size_t i = 0; i < N_OF(cases); i++)
		tap_ok(reindex_size_fits(cases[i].listed, cases[i].size,
					 cases[i].lf, cases[i].ends_nl) ==
			   cases[i].fits,
		       cases[i].what);
}

int main(void)
{
	test_field_starts();
	test_message_id();
	test_size_fits();
	return tap_done();
}
