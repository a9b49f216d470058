export { resolveImageClosure } from './closure.js';
export type { ImageClosureRequest } from './closure.js';
export { imageJsonSchema, imageSchemaFile } from './json-schema.js';
export { IMAGE_FILE, loadImageInputs, loadImageText, validateImageSource } from './load.js';
export { lockImage } from './lock.js';
export type { ImageLockOptions, ImageLockResult } from './lock.js';
export { ClientArchive, ImageInputs, ImagePackagePin, ImageVersion } from './schema.js';
export { imagePackageSource } from './sources.js';
export { writeImagePins } from './write-pins.js';
