# The refresh scheduler's timing on a clock the test sets: the agent's one
# clock, agent_now_boot(), is wrapped so that the test decides the time.
xo_unit_test(test_scheduler
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_scheduler.c
	LIBS xo_account)
target_link_options(test_scheduler PRIVATE "LINKER:--wrap=agent_now_boot")
