// Types of check-bundle.mjs, for the TypeScript tests that import it.
export declare const DEV_MODE_MARKERS: string[];
export declare function initialChunks(dir: string): { files: string[]; missing: string[] };
export declare function checkBundle(dir: string, options: { budgetKb: number }): { problems: string[]; initialGzipKb: number; initialFiles: string[] };
