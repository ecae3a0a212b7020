// SPDX-License-Identifier: Apache-2.0
// The program the spawn benchmarks run: exits 0 at once. Linked statically
// (target ward_static_true) so that what is measured is process creation,
// exec and exit, not the dynamic loader.
int main() { return 0; }
