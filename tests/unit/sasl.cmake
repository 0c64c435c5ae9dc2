# The SASL initial responses the agent hands out (secret/sasl.c).
xo_unit_test(test_sasl SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sasl.c
	LIBS xo_secret)
