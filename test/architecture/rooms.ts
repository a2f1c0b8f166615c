/** Folders under src/providers/ that are not providers but serve several of them. */
export const SHARED_PROVIDER_FOLDERS = ['shared', 'cloudflare'];
