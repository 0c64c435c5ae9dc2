xo_unit_test(test_client SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client.c
	LIBS xoauth_static)
# free() is wrapped so the tests can look into every buffer libxoauth
# releases and prove that no token is left in it.
target_link_options(test_client PRIVATE "LINKER:--wrap=free")
