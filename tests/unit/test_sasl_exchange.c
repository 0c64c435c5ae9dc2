/* The steps of an XOAUTH2 or OAUTHBEARER exchange as the SASL plugin takes
 * them, and the server's port (contrib/sasl/exchange.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "exchange.h"

static void first_step_sends_the_token_with_or_without_a_challenge(void **state)
{
	enum sxo_state st = SXO_STATE_START;

	(void)state;
	/* An initial response on the command line: no server message. */
	assert_int_equal(sxo_exchange_next(&st, 0), SXO_SEND_TOKEN);
	assert_int_equal(st, SXO_STATE_SENT);
	/* A server taking none sends an empty challenge first; anything it
	   sends then still asks for the token. */
	st = SXO_STATE_START;
	assert_int_equal(sxo_exchange_next(&st, 7), SXO_SEND_TOKEN);
	assert_int_equal(st, SXO_STATE_SENT);
}

static void success_after_the_token_finishes(void **state)
{
	enum sxo_state st = SXO_STATE_SENT;

	(void)state;
	assert_int_equal(sxo_exchange_next(&st, 0), SXO_FINISH);
	assert_int_equal(st, SXO_STATE_SENT);
}

static void a_challenge_after_the_token_is_a_refusal(void **state)
{
	enum sxo_state st = SXO_STATE_SENT;

	(void)state;
	assert_int_equal(sxo_exchange_next(&st, 60), SXO_ANSWER_REFUSAL);
	assert_int_equal(st, SXO_STATE_REFUSED);
}

static void anything_after_the_refusal_is_out_of_turn(void **state)
{
	enum sxo_state st = SXO_STATE_REFUSED;

	(void)state;
	/* Neither a second challenge nor a success: the server has
	   refused, the exchange must end in its failure. */
	assert_int_equal(sxo_exchange_next(&st, 3), SXO_OUT_OF_TURN);
	assert_int_equal(sxo_exchange_next(&st, 0), SXO_OUT_OF_TURN);
	assert_int_equal(st, SXO_STATE_REFUSED);
}

static void
refusal_answers_are_empty_for_xoauth2_and_ctrl_a_for_oauthbearer(void **state)
{
	const char *out = NULL;
	unsigned len = 99;

	(void)state;
	sxo_refusal_answer(SXO_MECH_XOAUTH2, &out, &len);
	assert_non_null(out);
	assert_int_equal(len, 0);
	sxo_refusal_answer(SXO_MECH_OAUTHBEARER, &out, &len);
	assert_int_equal(len, 1);
	assert_memory_equal(out, "\x01", 1);
}

static void port_comes_from_the_remote_address(void **state)
{
	(void)state;
	assert_int_equal(sxo_server_port("192.0.2.7;993"), 993);
	assert_int_equal(sxo_server_port("2001:db8::1;587"), 587);
	assert_int_equal(sxo_server_port("127.0.0.1;65535"), 65535);
}

static void no_port_when_the_address_holds_none(void **state)
{
	(void)state;
	assert_int_equal(sxo_server_port(NULL), 0);
	assert_int_equal(sxo_server_port("192.0.2.7"), 0);
	assert_int_equal(sxo_server_port("192.0.2.7;"), 0);
	assert_int_equal(sxo_server_port("192.0.2.7;99a"), 0);
	assert_int_equal(sxo_server_port("192.0.2.7;65536"), 0);
	assert_int_equal(sxo_server_port("192.0.2.7;-1"), 0);
	assert_int_equal(sxo_server_port("192.0.2.7;99999999999999999999"), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		first_step_sends_the_token_with_or_without_a_challenge),
	    cmocka_unit_test(success_after_the_token_finishes),
	    cmocka_unit_test(a_challenge_after_the_token_is_a_refusal),
	    cmocka_unit_test(anything_after_the_refusal_is_out_of_turn),
	    cmocka_unit_test(
		refusal_answers_are_empty_for_xoauth2_and_ctrl_a_for_oauthbearer),
	    cmocka_unit_test(port_comes_from_the_remote_address),
	    cmocka_unit_test(no_port_when_the_address_holds_none),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("sasl_exchange", tests, NULL, NULL),
	};

	return unit_run(argc, argv, groups, 1);
}
