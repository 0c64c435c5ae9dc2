# The account store's reload.  The allocation functions are wrapped so the
# test can make any one allocation of the agent's code fail.
xo_unit_test(test_account SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_account.c
	LIBS xoagent)
target_link_options(test_account PRIVATE
	"LINKER:--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup")
