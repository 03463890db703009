// Types for search-dirs.mjs (plain JavaScript so the setup script can run before node_modules exist).
export declare function modelSearchDirs(env?: NodeJS.ProcessEnv, repoRoot?: string): string[];
export declare function cacheDir(env?: NodeJS.ProcessEnv): string;
