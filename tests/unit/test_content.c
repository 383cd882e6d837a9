/* test_content.c - placeholder until written */
int main(void) { return 0; }
