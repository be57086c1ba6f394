// cube/models/gemm/gemm.h: the float32 matrix product behind the GPT model (one kernel for every
// product of forward, backward and attention), with AVX-512, AVX2+FMA and portable paths.
//
// gemm computes C[i,j] (+)= sum_p A(i,p) * B(p,j) for i < M, j < N, p < K, with A and B given by
// element strides (A(i,p) = a[i*a_rs + p*a_cs], B(p,j) = b[p*b_rs + j*b_cs]) so that A·B, A·Bᵀ,
// Aᵀ·B and strided head slices all use it without copies of A. C is row-major with leading
// dimension ldc. B is packed into panels of 16 columns (K x 16, zero padded); a 12 x 16 (AVX-512,
// one zmm per row) or 6 x 16 (AVX2, two ymm per row) register-blocked micro-kernel (Goto & van de
// Geijn, "Anatomy of high-performance matrix multiplication", TOMS 2008) sums over p in increasing
// order, in slices of 256 whose partial sums are added to C in order.
//
// Backends: products called with parallel=true (the model's linear layers) go to oneDNN's sgemm
// when cube is built with it (Debian libdnnl-dev; on the exam's products 1.0-1.3x cube's AVX-512
// kernels forward, 1.3-1.9x on the weight gradients; docs/performance.md), the rest (attention's
// per-head products) to cube's own kernels.
//
// Determinism: every C element is computed by one thread, in the same order, whatever the thread
// count, so results are bitwise identical for any number of threads. On the oneDNN backend C is
// cut into blocks that depend on the shape only, each computed by one single-threaded oneDNN call
// (oneDNN's own threading splits K for weight-gradient shapes at 8 or more threads, which would
// change the bits with the thread count). The path is chosen at run time
// (cpuid): AVX-512F, else AVX2+FMA, else portable. The AVX-512 and AVX2 paths compute every
// element by the same fused multiply-adds in the same order, so they give the same bits; the
// portable path does not fuse: its bits differ, never between runs on one machine.
// Cost: 2*M*N*K flops; packing reads K*N elements of B. Memory: a thread-local pack buffer.
#pragma once

#include <cstddef>
#include <vector>

namespace cube::gpt {

// Strided view of a read-only matrix operand: element (r, c) at data[r*rs + c*cs].
struct ConstStrided {
  const float* data;
  std::ptrdiff_t rs;
  std::ptrdiff_t cs;
};

// C (+)= A·B as above. accumulate=false overwrites C. parallel=true splits the rows of C over the
// OpenMP threads (call it outside parallel regions); false runs on the calling thread only.
// Preconditions: M, N, K >= 0; C does not alias A or B.
void gemm(int M, int N, int K, ConstStrided a, ConstStrided b, float* c, std::ptrdiff_t ldc,
          bool accumulate, bool parallel);

// Row-major conveniences (llm.c / PyTorch Linear layouts):
// out[M,N] (+)= in[M,K] · W[N,K]ᵀ
inline void gemm_nt(int M, int N, int K, const float* in, const float* w, float* out,
                    bool accumulate, bool parallel = true) {
  gemm(M, N, K, {in, K, 1}, {w, 1, K}, out, N, accumulate, parallel);
}
// out[M,N] (+)= in[M,K] · W[K,N]
inline void gemm_nn(int M, int N, int K, const float* in, const float* w, float* out,
                    bool accumulate, bool parallel = true) {
  gemm(M, N, K, {in, K, 1}, {w, N, 1}, out, N, accumulate, parallel);
}
// out[M,N] (+)= A[K,M]ᵀ · B[K,N]
inline void gemm_tn(int M, int N, int K, const float* a, const float* b, float* out,
                    bool accumulate, bool parallel = true) {
  gemm(M, N, K, {a, 1, M}, {b, N, 1}, out, N, accumulate, parallel);
}

// B (K x N) packed once into the kernels' 16-column panels, for several serial products that
// read row ranges of it (attention's causal strips read keys j < i1 of one head's K and V).
// Storage grows on demand and is reused by later pack() calls.
class PackedB {
 public:
  void pack(int K, int N, ConstStrided b);
  int depth() const { return K_; }
  int cols() const { return N_; }

 private:
  friend void gemm_packed(int, int, int, ConstStrided, const PackedB&, int, float*, std::ptrdiff_t,
                          bool);
  std::vector<float> storage_;
  float* panels_ = nullptr;  // 64-byte aligned start within storage_
  int K_ = 0, N_ = 0;
};

// C (+)= A · B[p0 : p0 + K, 0 : N] on the calling thread, with B from PackedB::pack: the bits of
// gemm(M, N, K, a, <those rows of B>, c, ldc, accumulate, false), without packing B again.
// Preconditions: p0 + K <= b.depth(), N <= b.cols() (else Error); C does not alias A or B.
void gemm_packed(int M, int N, int K, ConstStrided a, const PackedB& b, int p0, float* c,
                 std::ptrdiff_t ldc, bool accumulate);

enum class GemmPath { kPortable, kAvx2, kAvx512 };
// The widest path this CPU runs, and the one in use (the widest unless set_gemm_path chose).
GemmPath best_gemm_path();
GemmPath gemm_path();
// Switches every later product to `path` (for benches and tests that compare the paths in one
// process; call it outside parallel regions). Throws Error when the CPU cannot run it.
void set_gemm_path(GemmPath path);
const char* to_string(GemmPath path);

// Who computes the products of parallel calls: cube's kernels (the path above) or oneDNN's sgemm.
// oneDNN sums in another order than cube's kernels: the bits differ between backends (never
// between runs or thread counts on one backend).
enum class GemmBackend { kCube, kOneDnn };
// True when cube was built with oneDNN (CMake found Debian's libdnnl-dev) and its library opens
// (it is loaded on the first call, not at start-up).
bool onednn_available();
// oneDNN when available, else cube; and the backend in use.
GemmBackend default_gemm_backend();
GemmBackend gemm_backend();
// Switches every later parallel product to `backend` (benches and tests that compare backends in
// one process; call it outside parallel regions). Throws Error for oneDNN when it is not built in.
void set_gemm_backend(GemmBackend backend);
const char* to_string(GemmBackend backend);

// True when a fused (AVX2 or AVX-512) kernel is in use.
bool gemm_uses_avx2();

}  // namespace cube::gpt
