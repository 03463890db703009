// Types for setup.mjs (plain JavaScript: it runs before node_modules exist). Tests import its pure parts.
export type Mode = 'demo' | 'test';
export interface Requirement {
  /** Any one of these Debian packages will do; the first is the one installed. */
  any: string[];
  why: string;
}
export interface ManifestRef {
  name: string;
  file: string;
  url?: string | null;
}
export declare function requirements(mode: Mode, env?: NodeJS.ProcessEnv): Requirement[];
export declare function packageNames(reqs: Requirement[]): string[];
export declare function parseDpkgQuery(output: string): Set<string>;
export declare function missingPackages(reqs: Requirement[], installed: Set<string>): { name: string; why: string }[];
export declare function nodeModulesState(
  lockText: string | null,
  installedText: string | null,
  opts: { nodeModulesExists: boolean; needDev: boolean },
): { state: 'ok' | 'missing' | 'stale'; reason: string };
export declare function missingModels<M extends ManifestRef>(manifests: M[], dirs: string[], exists?: (file: string) => boolean): M[];
export declare function modelMessage(missing: ManifestRef[], dirs: string[]): string;
export declare function aptInstallCommand(names: string[]): string[];
export declare function main(argv: string[]): number;
