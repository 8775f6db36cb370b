export declare const BUDGET: { loader: number; chat: number };
export declare function sizes(dir: string): { loader: number; chat: number; manifest: { loader: string; chat: string } };
export declare function checkBudget(dir: string, log?: (line: string) => void): boolean;
