/* SPDX-License-Identifier: ISC */
/* Modified UTF-7 folder names (RFC 3501 5.1.3) both ways, and what a
 * hostile server may send instead. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mutf7.h"
#include "tap.h"

struct pair {
	const char *utf7;
	const char *utf8;
};

static const struct pair pairs[] = {
    {"INBOX", "INBOX"},
    {"Lists/dev", "Lists/dev"},
    {"&-", "&"},
    {"Tom &- Jerry", "Tom & Jerry"},
    {"Entw&APw-rfe", "Entw\xc3\xbc"
		     "rfe"},				    /* Entwürfe */
    {"&ZeVnLIqe-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"}, /* 日本語 */
    {"~peter/mail/&U,BTFw-/&ZeVnLIqe-",
     "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac"
     "\xe8\xaa\x9e"},		      /* RFC example */
    {"&2D3eAQ-", "\xf0\x9f\x98\x81"}, /* 😁, a pair */
    {"caf&AOk- &AOk-t&AOk-", "caf\xc3\xa9 \xc3\xa9t\xc3\xa9"},
    {"", ""},
};

static void test_pairs(void)
{
	for (size_t i = 0; i < sizeof(pairs) / sizeof(*pairs); i++) {
		char *out = NULL, *err = NULL, what[128];
		snprintf(what, sizeof(what), "decode \"%s\"", pairs[i].utf7);
		if (mutf7_decode(pairs[i].utf7, &out, &err) == 0)
			tap_str(out, pairs[i].utf8, what);
		else
			tap_ok(0, what);
		free(out);
		free(err);
		out = err = NULL;
		snprintf(what, sizeof(what), "encode to \"%s\"", pairs[i].utf7);
		if (mutf7_encode(pairs[i].utf8, &out, &err) == 0)
			tap_str(out, pairs[i].utf7, what);
		else
			tap_ok(0, what);
		free(out);
		free(err);
	}
}

struct bad {
	const char *in;
	const char *why;
};

static const struct bad bad_utf7[] = {
    {"caf\xc3\xa9", "outside printable ASCII"},
    {"tab\there", "outside printable ASCII"},
    {"&AOk", "not closed"},
    {"&AGE-", "printable ASCII character is encoded"}, /* 'a' */
    {"&AC8-", "printable ASCII character is encoded"}, /* '/' */
    {"&2D0-", "unpaired surrogate"},
    {"&3gE-", "unpaired surrogate"},
    {"&AOk*-", "bad character"},
    {"&AOl-", "does not end on a character"},  /* non-zero spare bits */
    {"&AOkA-", "does not end on a character"}, /* a stray sextet */
    {"&AAA-", "NUL"},
    {"&A/k-", "bad character"}, /* '/' is ',' in modified base64 */
};

static void test_bad(void)
{
	for (size_t i = 0; i < sizeof(bad_utf7) / sizeof(*bad_utf7); i++) {
		char *out = NULL, *err = NULL, what[128];
		snprintf(what, sizeof(what), "refuse \"%s\" (%s)",
			 bad_utf7[i].in, bad_utf7[i].why);
		int r = mutf7_decode(bad_utf7[i].in, &out, &err);
		tap_ok(r < 0 && out == NULL && err != NULL &&
			   strstr(err, bad_utf7[i].why) != NULL,
		       what);
		if (err != NULL && strstr(err, bad_utf7[i].why) == NULL)
			printf("# error was: %s\n", err);
		free(out);
		free(err);
	}
	const char *bad_utf8[] = {"\xc3", "\xc0\xaf", "\xed\xa0\x80",
				  "\xf4\x90\x80\x80", "\xff"};
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(*bad_utf8); i++) {
		char *out = NULL, *err = NULL;
		tap_ok(mutf7_encode(bad_utf8[i], &out, &err) < 0 &&
			   out == NULL && err != NULL,
		       "encode refuses invalid UTF-8");
		free(out);
		free(err);
	}
}

/* Every code point of the BMP and some beyond survive a round trip. */
static void test_round_trip(void)
{
	int ok = 1;
	for (uint32_t cp = 1; cp < 0x110000 && ok; cp += cp < 0x3000 ? 1 : 97) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		char utf8[8] = "x", *enc = NULL, *dec = NULL, *err = NULL;
		unsigned char *u = (unsigned char *)utf8 + 1;
		if (cp < 0x80) {
			u[0] = (unsigned char)cp;
		} else if (cp < 0x800) {
			u[0] = (unsigned char)(0xc0 | cp >> 6);
			u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			u[0] = (unsigned char)(0xe0 | cp >> 12);
			u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
			u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		} else {
			u[0] = (unsigned char)(0xf0 | cp >> 18);
			u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
			u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
			u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		}
		ok = mutf7_encode(utf8, &enc, &err) == 0 &&
		     mutf7_decode(enc, &dec, &err) == 0 &&
		     strcmp(dec, utf8) == 0;
		if (!ok)
			printf("# round trip failed at U+%04X\n", (unsigned)cp);
		free(enc);
		free(dec);
		free(err);
	}
	tap_ok(ok, "round trip of code points across all planes");
}

int main(void)
{
	test_pairs();
	test_bad();
	test_round_trip();
	return tap_done();
}
