/* test_mime.c - placeholder until written */
int main(void) { return 0; }
