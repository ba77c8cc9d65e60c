// Tests for naming the BLAS under the PyTorch peer from the libraries mapped into its process: the
// libblas.so.3 that the alternatives system resolves decides, even when OpenBLAS is mapped too (its
// LAPACK pulls it in beside the reference BLAS), and only the reference BLAS is refused as a peer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { classifyBlas } from './torch-peer.ts';

const OB = '/usr/lib/x86_64-linux-gnu/openblas-pthread';
const openblas = { core: 'SkylakeX', config: 'OpenBLAS 0.3.21 DYNAMIC_ARCH SkylakeX MAX_THREADS=64', threads: 2 };

test('OpenBLAS through the libblas.so.3 alternative is optimised, named with version, core and threads', () => {
  const b = classifyBlas({ blas: { libs: [`${OB}/libopenblasp-r0.3.21.so`, `${OB}/libblas.so.3`], openblas } });
  assert.ok(b.optimised);
  assert.match(b.name, /^OpenBLAS 0\.3\.21 \(core SkylakeX, 2 threads\)/);
});

test('the reference libblas.so.3 is not a peer even with OpenBLAS mapped beside it', () => {
  const ref = '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0';
  const b = classifyBlas({ blas: { libs: [`${OB}/libopenblasp-r0.3.21.so`, ref], openblas } });
  assert.not.ok(b.optimised);
  assert.is(b.name, `reference BLAS: ${ref}`);
  assert.not.ok(classifyBlas({ blas: { libs: ['/usr/lib64/libblas.so.3.12.0'] } }).optimised);
});

test('other implementations, and torch builds that link their BLAS in', () => {
  assert.ok(classifyBlas({ blas: { libs: ['/usr/lib/x86_64-linux-gnu/blis-openmp/libblas.so.3'] } }).optimised);
  assert.match(classifyBlas({ blas: { libs: ['/opt/intel/lib/libmkl_rt.so.2'] } }).name, /^MKL/);
  const wheel = classifyBlas({ blas: { libs: [], build: 'Build settings: BLAS_INFO=mkl, BUILD_TYPE=Release' } });
  assert.is(wheel.name, 'MKL (linked into torch)');
  assert.match(classifyBlas({ blas: { libs: [], build: 'BLAS_INFO=generic' } }).name, /^unknown .*generic/);
});

test.run();
