"""Commands an operator runs against a live stack: run a deployment and report on it (`run_report`), give back
the slots a restarted server still counts (`free_slots`), and cancel flow runs stuck in Cancelling
(`stuck_cancelling`). `make status` names the last two when it finds what they mend."""
