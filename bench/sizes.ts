// The bench's sizes: a full run's, or the smoke run's small ones (`--smoke`).
export const SMOKE = process.argv.includes('--smoke');
// Calls made before each timed series and not counted, for vxnet and for the references alike: the
// first calls of a series meet cold caches (a process's JIT, the plugin binary's pages, the CNI
// reference's bridge being created), which a host that has been running does not.
export const WARMUP = SMOKE ? 1 : 5;
export const N = SMOKE
  ? {
      attach: 10,
      converge: 5,
      bulk: 500,
      bulkRounds: 1,
      scale: [1000],
      iperfS: 1,
      restart: 500,
      restarts: 1,
      cni: 10,
      docker: 3,
      bigConnect: 3,
    }
  : {
      attach: 100,
      converge: 50,
      bulk: 10000,
      bulkRounds: 3,
      scale: [10000, 50000],
      iperfS: 5,
      restart: 10000,
      restarts: 3,
      cni: 100,
      docker: 30,
      bigConnect: 20,
    };
