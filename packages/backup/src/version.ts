/** Name written into every manifest (`tool.name`). */
export const TOOL_NAME = 'myfinance-backup' as const;
/** Version of the engine written into every manifest (`tool.version`). */
export const TOOL_VERSION = '0.1.0';
