#!/usr/bin/env python3
"""Writes the naive n x n matmul as a ByteDMD neutral program (metrics.md §6.4 and §6.6).

C[i][j] = A[i][0]*B[0][j] + sum_k A[i][k]*B[k][j], accumulated left to right, one `mul` and
one `add` statement per step. Inputs are pushed B first, then A (ByteDMD pushes the last
argument first), row-major within each; the C values are live-out. bytedmd with
bytes_per_element = 1 is 57 for n = 2, 720 for n = 4, 109,783 for n = 16 (metrics.md §6.6) and
1,505,125 for n = 32 (a 1.9 MB program).

Usage: bench/matmul_bytedmd_program.py N > matmul_N.ir
"""
import sys


def program(n):
    a = [f"A[{i}][{j}]" for i in range(n) for j in range(n)]
    b = [f"B[{i}][{j}]" for i in range(n) for j in range(n)]
    lines = ["push " + " ".join(b + a)]
    t = 2 * n * n
    c = []
    for i in range(n):
        for j in range(n):
            t += 1
            acc = f"t{t}"
            lines.append(f"{acc} = mul A[{i}][0] B[0][{j}]")
            for k in range(1, n):
                t += 1
                product = f"t{t}"
                lines.append(f"{product} = mul A[{i}][{k}] B[{k}][{j}]")
                t += 1
                lines.append(f"t{t} = add {acc} {product}")
                acc = f"t{t}"
            c.append(acc)
    lines.append("return " + " ".join(c))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(program(int(sys.argv[1])))
