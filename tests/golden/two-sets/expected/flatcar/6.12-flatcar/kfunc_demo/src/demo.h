static inline int demo_sum(int a, int b) { return a + b; }
