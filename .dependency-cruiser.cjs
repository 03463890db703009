// The layers, as rules the build enforces (test/architecture.test.ts runs them in `npm test`;
// `npm run lint:deps` prints the same report). The data path, and who may import whom:
//
//   pipeline/geometry, track, rules, eval   pure: no I/O, no servers, no native image/ML libraries
//   pipeline/source, detect, evidence, …    the core with its I/O (ffmpeg, ONNX, sharp, files)
//   models/                                 manifests and weight resolution
//   infra/                                  shared infrastructure: Redis, settings, database, stores,
//                                           evidence-store adapters, webhook delivery, shared metrics
//   workers/   api/                         the two processes; each imports infra/ and pipeline/, never the other
//   demo/                                   the `npm start` demo camera (a fixture clip looped as live HLS)
//   bin/                                    the CLI, on top of everything
//   fixtures/  test/                        test material and tests
//
// Paths in the rules are relative to the cruised root (the repository, or a test's scratch tree).

/** Pure folders: the geometry, tracking, rules and evaluation code that unit tests pin exactly. */
const PURE = '^pipeline/(geometry|track|rules|eval)/';
/** Tests beside the code read their testdata from disk; the rules are about what ships. */
const TEST_FILE = '\\.test\\.ts$';

/** I/O and heavy native modules a pure module must not import (Node built-ins, with or without node:). */
const IO_CORE =
  '^(node:)?(child_process|cluster|dgram|dns|fs|fs/promises|http|http2|https|inspector|net|readline|repl|tls|worker_threads)$';
const IO_PACKAGES =
  '(^|/)node_modules/(ioredis|bullmq|minio|pg|pg-[^/]+|kysely|kysely-[^/]+|@electric-sql/[^/]+|express|multer|pino|pino-http|prom-client|rate-limiter-flexible|onnxruntime-node|sharp)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle means two modules are one module in two files; cut it by moving the shared part down a layer.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every import must resolve, or the layer rules below could not see where it goes.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'pure-no-io-builtins',
      severity: 'error',
      comment: 'pipeline/geometry, track, rules and eval are pure: they take data and return data (file loaders live in pipeline/load).',
      from: { path: PURE, pathNot: TEST_FILE },
      to: { dependencyTypes: ['core'], path: IO_CORE },
    },
    {
      name: 'pure-no-io-packages',
      severity: 'error',
      comment: 'No Redis, queues, S3, SQL, HTTP, ONNX runtime or sharp in the pure folders.',
      from: { path: PURE, pathNot: TEST_FILE },
      to: { path: IO_PACKAGES },
    },
    {
      name: 'pure-only-pure',
      severity: 'error',
      comment: 'Pure folders import only other pure folders and pipeline/types.ts, so purity holds transitively too.',
      from: { path: PURE, pathNot: TEST_FILE },
      to: {
        path: '^(pipeline/(source|detect|evidence|report|load)/|pipeline/(analyzer|replay)\\.ts$|infra/|workers/|api/|bin/|demo/|fixtures/|models/|test/)',
      },
    },
    {
      name: 'pipeline-not-to-outer-layers',
      severity: 'error',
      comment: 'pipeline/ is the core: it never knows about the processes, the infrastructure, the CLI or test material.',
      from: { path: '^pipeline/', pathNot: TEST_FILE },
      to: { path: '^(infra|workers|api|bin|demo|fixtures|test)/' },
    },
    {
      name: 'models-not-to-outer-layers',
      severity: 'error',
      comment: 'models/ (manifests, weight resolution) sits under pipeline/detect and knows nothing above it.',
      from: { path: '^models/', pathNot: TEST_FILE },
      to: { path: '^(pipeline|infra|workers|api|bin|demo|fixtures|test)/' },
    },
    {
      name: 'infra-not-to-processes',
      severity: 'error',
      comment: 'infra/ is shared by the worker and the API process, so it imports neither.',
      from: { path: '^infra/', pathNot: TEST_FILE },
      to: { path: '^(workers|api|bin|demo|fixtures|test)/' },
    },
    {
      name: 'workers-not-to-api',
      severity: 'error',
      comment: 'The worker process never imports the HTTP API; what both need lives in infra/.',
      from: { path: '^workers/' },
      to: { path: '^api/' },
    },
    {
      name: 'api-not-to-workers',
      severity: 'error',
      comment: 'The API process never imports the worker process; what both need lives in infra/.',
      from: { path: '^api/' },
      to: { path: '^workers/' },
    },
    {
      name: 'processes-not-to-test-material',
      severity: 'error',
      comment: 'Shipped code does not load the fixture generators or tests (the demo camera goes through demo/).',
      from: { path: '^(workers|api|infra)/', pathNot: TEST_FILE },
      to: { path: '^(fixtures|test|bin)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // node_modules is reached (so the package rules see what is imported) but never followed.
    exclude: { path: '^(\\.cache|dist|coverage|var|api/console/dist)/' },
    // Type-only imports count: a type cycle couples two modules as much as a value cycle does.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      // Resolve packages through their "exports" as Node's ESM loader does (a "types" condition would pick .d.ts files).
      conditionNames: ['import', 'node', 'default'],
      exportsFields: ['exports'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
