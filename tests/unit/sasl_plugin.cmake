# The SASL plugin's exchange, step by step (contrib/sasl/exchange.c); only
# when the plugin is built.
if(TARGET sxo_exchange)
	xo_unit_test(test_sasl_exchange
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sasl_exchange.c
		LIBS sxo_exchange)
endif()
