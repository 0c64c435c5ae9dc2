# The boot timer (core/clock.h) on the real CLOCK_BOOTTIME, in a real loop:
# when it fires, that a disarmed one never does, and the simulated suspend
# of the test hooks.
xo_unit_test(test_clock
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_clock.c
	LIBS xo_core)
