/* SPDX-License-Identifier: ISC */
/* status: JSON strings (escapes, UTF-8 passed through, invalid bytes
 * replaced), the result words, the folder names shown. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "tap.h"

static const struct {
	const char *in, *want, *what;
} json_cases[] = {
    {"", "\"\"", "empty"},
    {"plain", "\"plain\"", "plain ASCII"},
    {"a\"b\\c", "\"a\\\"b\\\\c\"", "quote and backslash"},
    {"\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"", "short escapes"},
    {"\x01\x1f", "\"\\u0001\\u001f\"", "other control characters"},
    {"\x7f", "\"\x7f\"", "DEL needs no escape"},
    {"Entw\xc3\xbcrfe", "\"Entw\xc3\xbcrfe\"", "2-byte UTF-8 passes"},
    {"\xe2\x82\xac \xf0\x9f\x93\xa7", "\"\xe2\x82\xac \xf0\x9f\x93\xa7\"",
     "3- and 4-byte UTF-8 pass"},
    {"a\xffz", "\"a\\ufffdz\"", "an invalid byte"},
    {"\xc3", "\"\\ufffd\"", "a truncated sequence at the end"},
    {"\xc3(", "\"\\ufffd(\"", "a lead byte without continuation"},
    {"\xc0\xaf", "\"\\ufffd\\ufffd\"", "an overlong form"},
    {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"", "a surrogate"},
    {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "above U+10FFFF"},
    {"/\xe2\x80\xa8", "\"/\xe2\x80\xa8\"", "U+2028 and '/' as they are"},
};

static void test_json(void)
{
	for (size_t i = 0; i < sizeof(json_cases) / sizeof(*json_cases); i++) {
		struct util_str out = {0};
		status_json_string(&out, json_cases[i].in);
		tap_str(out.p, json_cases[i].want, json_cases[i].what);
		free(out.p);
	}
}

static void test_results(void)
{
	tap_str(status_result_name(UTIL_FAIL_NONE), "ok", "result: ok");
	tap_str(status_result_name(UTIL_FAIL_TEMP), "temporary failure",
		"result: temporary failure");
	tap_str(status_result_name(UTIL_FAIL_AUTH), "login refused",
		"result: login refused");
	tap_str(status_result_name(UTIL_FAIL_CONFIG), "configuration error",
		"result: configuration error");
	tap_str(status_result_name(UTIL_FAIL_LOCAL), "archive error",
		"result: archive error");
}

static void test_display(void)
{
	struct conf_account imap = {.protocol = CONF_PROTOCOL_IMAP};
	struct conf_account pop = {.protocol = CONF_PROTOCOL_POP3};
	struct state_folder_status f = {.folder = (char *)"Entw&APw-rfe"};
	char *d;

	d = status_folder_display(&imap, &f);
	tap_str(d, "Entw\xc3\xbcrfe", "display: decoded from the records");
	free(d);
	f.display = (char *)"Shown";
	d = status_folder_display(&imap, &f);
	tap_str(d, "Shown", "display: the poll's name wins");
	free(d);
	f = (struct state_folder_status){.folder = (char *)"&bad"};
	d = status_folder_display(&imap, &f);
	tap_str(d, "&bad", "display: undecodable, as stored");
	free(d);
	f = (struct state_folder_status){.folder = (char *)"",
					 .display = (char *)""};
	d = status_folder_display(&pop, &f);
	tap_str(d, "INBOX", "display: a POP3 mailbox is INBOX");
	free(d);
}

int main(void)
{
	test_json();
	test_results();
	test_display();
	return tap_done();
}
