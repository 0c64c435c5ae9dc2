/*
 * report.c: the findings of a diagnosis and their DOCTOR reply
 * (PROTOCOL.md 4.9).  Pure: no I/O.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <xoauth/xo_errors.h>

#include "doctor/pure/doctor.h"

void doctor_add(struct doctor_report *r, int level, const char *text,
		const char *fix)
{
	struct doctor_finding *f;

	if (r->n >= DOCTOR_MAX_FINDINGS) {
		r->dropped++;
		return;
	}
	f = &r->items[r->n++];
	f->level = level;
	snprintf(f->text, sizeof(f->text), "%s", text != NULL ? text : "");
	snprintf(f->fix, sizeof(f->fix), "%s", fix != NULL ? fix : "");
}

void doctor_addf(struct doctor_report *r, int level, const char *fix,
		 const char *fmt, ...)
{
	char text[DOCTOR_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	doctor_add(r, level, text, fix);
}

size_t doctor_count(const struct doctor_report *r, int level)
{
	size_t i, n = 0;

	for (i = 0; i < r->n; i++)
		if (r->items[i].level == level)
			n++;
	return n;
}

int doctor_mentions(const struct doctor_report *r, const char *needle)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strstr(r->items[i].text, needle) != NULL)
			return 1;
	return 0;
}

int doctor_report_encode(const struct doctor_report *r, struct proto_writer *w)
{
	struct proto_finding f;
	char note[80];
	size_t i;

	proto_enc_doctor_begin(w, (uint32_t)(r->n + (r->dropped > 0)));
	for (i = 0; i < r->n; i++) {
		f.level = (uint8_t)r->items[i].level;
		f.text = proto_str_c(r->items[i].text);
		f.fix = proto_str_c(r->items[i].fix);
		proto_enc_doctor_entry(w, &f);
	}
	if (r->dropped > 0) {
		snprintf(note, sizeof(note), "%zu more findings were left out",
			 r->dropped);
		f.level = PROTO_LEVEL_INFO;
		f.text = proto_str_c(note);
		f.fix = proto_str_c("");
		proto_enc_doctor_entry(w, &f);
	}
	return proto_enc_doctor_end(w);
}
