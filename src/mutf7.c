/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mutf7.h"
#include "util.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(char c)
{
	const char *p = c != '\0' ? strchr(b64, c) : NULL;
	return p != NULL ? (int)(p - b64) : -1;
}

static void put_utf8(struct util_str *o, uint32_t cp)
{
	char buf[4];
	size_t n;

	if (cp < 0x80) {
		buf[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		buf[0] = (char)(0xc0 | cp >> 6);
		buf[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		buf[0] = (char)(0xe0 | cp >> 12);
		buf[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		buf[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		buf[0] = (char)(0xf0 | cp >> 18);
		buf[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		buf[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		buf[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	util_str_add(o, buf, n);
}

/* Turns UTF-16 units U[0..N) into UTF-8.  NULL on success, else why. */
static const char *units_to_utf8(const uint16_t *u, size_t n, struct util_str *o)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t cp = u[i];
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (i + 1 == n || u[i + 1] < 0xdc00 ||
			    u[i + 1] > 0xdfff)
				return "unpaired surrogate";
			cp =
			    0x10000 + ((cp - 0xd800) << 10) + (u[++i] - 0xdc00);
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			return "unpaired surrogate";
		} else if (cp >= 0x20 && cp <= 0x7e) {
			return "a printable ASCII character is encoded";
		} else if (cp == 0) {
			return "NUL character";
		}
		put_utf8(o, cp);
	}
	return NULL;
}

/* Decodes the base64 run S[0..n) (between '&' and '-'). */
static const char *decode_run(const char *s, size_t n, struct util_str *o)
{
	uint16_t *u = xcalloc(n, sizeof(*u));
	size_t nu = 0;
	uint32_t bits = 0;
	int nbits = 0;
	const char *why = NULL;

	for (size_t i = 0; i < n && why == NULL; i++) {
		int v = b64_value(s[i]);
		if (v < 0) {
			why = "bad character in an encoded run";
			break;
		}
		bits = bits << 6 | (uint32_t)v;
		nbits += 6;
		if (nbits >= 16) {
			nbits -= 16;
			u[nu++] = (uint16_t)(bits >> nbits);
			bits &= (1u << nbits) - 1;
		}
	}
	if (why == NULL && (nbits >= 6 || bits != 0))
		why = "an encoded run does not end on a character";
	if (why == NULL)
		why = units_to_utf8(u, nu, o);
	free(u);
	return why;
}

int mutf7_decode(const char *in, char **out_r, char **err_r)
{
	struct util_str o = {0};
	const char *why = NULL;

	util_str_add(&o, "", 0);
	for (const char *p = in; *p != '\0' && why == NULL;) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c > 0x7e) {
			why = "a byte outside printable ASCII";
		} else if (c != '&') {
			util_str_add(&o, p++, 1);
		} else {
			const char *end = strchr(p + 1, '-');
			if (end == NULL)
				why = "an encoded run is not closed with '-'";
			else if (end == p + 1)
				util_str_add(&o, "&", 1);
			else
				why = decode_run(p + 1, (size_t)(end - p - 1),
						 &o);
			p = end != NULL ? end + 1 : p;
		}
	}
	if (why != NULL) {
		*err_r = xasprintf("folder name \"%s\": %s", in, why);
		free(o.p);
		return -1;
	}
	*out_r = o.p;
	return 0;
}

/* Reads one UTF-8 character at *p; returns the code point or -1. */
static int32_t next_utf8(const unsigned char **p)
{
	const unsigned char *s = *p;
	int n = s[0] < 0x80	  ? 0
		: s[0] >> 5 == 6  ? 1
		: s[0] >> 4 == 14 ? 2
		: s[0] >> 3 == 30 ? 3
				  : -1;
	static const int32_t min[] = {0, 0x80, 0x800, 0x10000};

	if (n < 0)
		return -1;
	int32_t cp = n == 0 ? s[0] : s[0] & (0x3f >> n);
	for (int i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*p = s + n + 1;
	return cp;
}

/* Writes the UTF-16 units U[0..N) as one "&...-" run. */
static void encode_run(const uint16_t *u, size_t n, struct util_str *o)
{
	uint32_t bits = 0;
	int nbits = 0;

	util_str_add(o, "&", 1);
	for (size_t i = 0; i < n; i++) {
		bits = bits << 16 | u[i];
		nbits += 16;
		while (nbits >= 6) {
			nbits -= 6;
			util_str_add(o, &b64[bits >> nbits & 0x3f], 1);
		}
		bits &= (1u << nbits) - 1;
	}
	if (nbits > 0)
		util_str_add(o, &b64[bits << (6 - nbits) & 0x3f], 1);
	util_str_add(o, "-", 1);
}

int mutf7_encode(const char *in, char **out_r, char **err_r)
{
	const unsigned char *p = (const unsigned char *)in;
	struct util_str o = {0};
	uint16_t *u = xcalloc(2 * strlen(in) + 1, sizeof(*u));
	size_t nu = 0;

	util_str_add(&o, "", 0);
	while (*p != '\0') {
		int32_t cp = next_utf8(&p);
		if (cp < 0) {
			*err_r = xasprintf("folder name \"%s\" is not valid "
					   "UTF-8",
					   in);
			free(u);
			free(o.p);
			return -1;
		}
		if (cp >= 0x20 && cp <= 0x7e) {
			if (nu > 0)
				encode_run(u, nu, &o);
			nu = 0;
			util_str_add(&o, cp == '&' ? "&-" : (const char *)p - 1,
				cp == '&' ? 2 : 1);
		} else if (cp >= 0x10000) {
			u[nu++] = (uint16_t)(0xd800 + ((cp - 0x10000) >> 10));
			u[nu++] = (uint16_t)(0xdc00 + ((cp - 0x10000) & 0x3ff));
		} else {
			u[nu++] = (uint16_t)cp;
		}
	}
	if (nu > 0)
		encode_run(u, nu, &o);
	free(u);
	*out_r = o.p;
	return 0;
}
