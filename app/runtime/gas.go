package runtime

// Gas prices live in the execution profile (app/profile), never here: instructions are
// charged by the injected meter at the profile's instruction prices, host calls charge
// the profile's base cost plus its cost per byte moved (so storage work is paid in
// proportion to its size), _initialize and the warm-up run under the profile's InitGas
// (charged to no transaction), every call is charged at least the profile's MinTxGas,
// which pays for restoring the instance to its snapshot afterwards, and a call that grows
// the memory pays GrowGas, since the instance must then be replaced.
