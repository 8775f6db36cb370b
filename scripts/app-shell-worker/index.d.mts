// Types of index.mjs, for the TypeScript build steps and tests that import it.
export declare const SHELL_MARKER: string;
export declare function composeWorker(template: string, build: { version: string; files: readonly string[] }): string;
