/* test_spamd.c - placeholder until written */
int main(void) { return 0; }
