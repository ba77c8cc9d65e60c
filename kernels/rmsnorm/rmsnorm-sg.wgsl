enable subgroups;
// RMSNorm row kernels with one subgroup per row: the same entry points, formulas and bindings as
// rmsnorm_fwd / rmsnorm_bwd_x in rmsnorm.wgsl (see there), with the row sum done by subgroupAdd
// instead of workgroup memory and barriers. Compiles only on devices with the 'subgroups'
// feature, hence its own file. The launcher picks it only when the adapter's subgroup size is
// fixed (subgroupMinSize == subgroupMaxSize) and sets LANES to it; it assumes subgroups are
// consecutive runs of local_invocation_index in a 1-D workgroup (true of llvmpipe and of the
// NVIDIA, AMD and Intel GPU drivers; not promised by the WebGPU spec). The weight-gradient
// kernels need no reduction across invocations and stay in rmsnorm.wgsl.

override WG: u32 = 64u;
override LANES: u32 = 8u; // the subgroup size

// Sum of `v` over this row's subgroup (call in uniform control flow).
fn row_sum(v: f32, lid: u32) -> f32 {
  return subgroupAdd(v);
}

// #include "rmsnorm-rows.wgsl"
