/* eslint-disable */
// @ts-nocheck
/**
 * Generated from protocol/train_params.schema.json by
 * scripts/gen-params-validator.js (ajv standalone code).
 * Do not edit: change the schema and run `npm run gen:params`.
 */
export const validate = validate10;
export default validate10;
const schema11 = {"$schema":"http://json-schema.org/draft-07/schema#","$id":"https://yolo-lab.invalid/protocol/train_params.schema.json","type":"object","properties":{"data":{"type":"string","default":"","minLength":1,"pattern":"\\.ya?ml$","x-form":"data","x-errors":{"minLength":{"code":"data_missing","message":"Pick a dataset yaml.","fix":"Select it in the file browser and press \"Use selected\", or make a small one with: python -m yolo_lab.shapes datasets/shapes"},"type":{"code":"data_missing","message":"Pick a dataset yaml.","fix":"Select it in the file browser and press \"Use selected\", or make a small one with: python -m yolo_lab.shapes datasets/shapes"},"pattern":{"code":"data_invalid","message":"The dataset must be a .yaml file (YOLOv5 data format), not {value}.","fix":"Give a dataset yaml such as datasets/shapes/data.yaml."}}},"model":{"type":"string","default":"yolov5n.yaml","x-form":"model"},"weights":{"type":"string","default":"","pattern":"(^$|\\.pt$)","x-form":"weights","x-errors":{"pattern":{"code":"weights_missing","message":"Weights are a .pt file on disk (runs never download), not {value}.","fix":"Give the path of a .pt file, or leave weights empty to train from scratch."}}},"device":{"default":"cpu","type":"array","minItems":1,"uniqueItems":true,"items":{"type":["integer","string"],"minimum":0,"pattern":"^cpu$"},"x-form":"devices","x-errors":{"minItems":{"code":"bad_device","message":"No device is chosen.","fix":"Pick a device: cpu, or one or more GPUs."},"uniqueItems":{"code":"bad_device","message":"A GPU is listed twice in {value}.","fix":"List each GPU once, e.g. device=[\"cuda:0\", \"cuda:1\"]."},"type":{"code":"bad_device","message":"Device {value} is not a device name.","fix":"Use \"cpu\", \"cuda:0\" (or 0), or a list such as [\"cuda:0\", \"cuda:1\"] for DDP."}}},"nproc":{"type":"integer","default":1,"minimum":1,"maximum":16,"x-form":"nproc","x-example":2,"x-errors":{"type":{"code":"bad_nproc","message":"Processes {value}: a whole number from {minimum} to {maximum}.","fix":"For example nproc={x-example} on the CPU, or 1."}}},"batch_size":{"type":["integer","string"],"default":16,"minimum":1,"maximum":1024,"pattern":"^auto$","x-aliases":{"auto":"auto","-1":"auto"},"x-form":"batchSize","x-example":16,"x-errors":{"type":{"code":"bad_batch_size","message":"Batch size {value} is not a number.","fix":"Give a whole number of images per step such as 16, or auto on one GPU."},"minimum":{"code":"bad_batch_size","message":"The batch size must be at least 1, not {value}.","fix":"Give a whole number of images per step such as 16, or auto on one GPU."},"maximum":{"code":"bad_batch_size","message":"Batch size {value} is more than {maximum} images per step.","fix":"YOLOv5's nominal batch is 64: try 16 to 256, or auto on one GPU."},"pattern":{"code":"bad_batch_size","message":"Batch size {value} is not a number.","fix":"Give a whole number of images per step such as 16, or auto on one GPU."}}},"amp":{"type":["boolean","null"],"default":null,"x-aliases":{"auto":null},"x-form":"amp","x-errors":{"type":{"code":"bad_amp","message":"AMP {value} must be True, False or None (automatic).","fix":"Use amp=True or amp=False."}}},"epochs":{"type":"integer","default":3,"minimum":1,"maximum":100000,"x-form":"epochs","x-example":30,"x-errors":{"type":{"code":"bad_epochs","message":"Epochs {value}: a whole number from {minimum} to {maximum}.","fix":"For example epochs={x-example}."}}},"imgsz":{"type":"integer","default":640,"minimum":32,"maximum":8192,"x-form":"imgsz","x-example":640,"x-errors":{"type":{"code":"bad_imgsz","message":"Image size {value}: a whole number of pixels from {minimum} to {maximum}.","fix":"For example imgsz={x-example}."}}},"workers":{"type":"integer","default":2,"minimum":0,"maximum":64,"x-form":"workers","x-example":2,"x-errors":{"type":{"code":"bad_workers","message":"Workers {value}: a whole number from {minimum} to {maximum}.","fix":"For example workers={x-example}."}}},"cache":{"enum":[null,"ram","disk"],"default":null,"x-aliases":{"none":null,"None":null,"":null},"x-form":"cache","x-errors":{"enum":{"code":"bad_cache","message":"Cache {value} is not a choice.","fix":"Use None, \"ram\" or \"disk\"."}}},"name":{"type":"string","default":"exp","pattern":"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$","x-form":"name","x-errors":{"type":{"code":"bad_name","message":"Run name {value} is not a usable folder name.","fix":"Use letters, digits, '.', '_' or '-', e.g. name=\"exp\"."},"pattern":{"code":"bad_name","message":"Run name {value} is not a usable folder name.","fix":"Use letters, digits, '.', '_' or '-', e.g. name=\"exp\"."}}},"project":{"type":"string","default":"runs/train","x-form":"project"}},"allOf":[{"if":{"required":["device"],"properties":{"device":{"contains":{"const":"cpu"}}}},"then":{"properties":{"device":{"maxItems":1}}},"x-refusal":{"field":"device","code":"bad_device","message":"The CPU and GPUs are chosen together.","fix":"Train on the CPU alone or on GPUs alone, e.g. device=\"cpu\" or device=[\"cuda:0\", \"cuda:1\"]."}},{"if":{"required":["batch_size"],"properties":{"batch_size":{"const":"auto"}}},"then":{"required":["device"],"properties":{"device":{"maxItems":1,"items":{"type":"integer"}}}},"x-refusal":{"field":"batch_size","code":"bad_batch_size","message":"Batch size auto (YOLOv5 autobatch) works on one GPU only.","fix":"Give a number such as 16, or train on one GPU."}},{"if":{"required":["device","nproc"],"properties":{"device":{"items":{"type":"integer"}}}},"then":{"properties":{"nproc":{"maximum":1}}},"x-refusal":{"field":"nproc","code":"bad_nproc","message":"nproc={nproc} is for DDP on the CPU; with GPUs the device list sets the processes, one per GPU.","fix":"Leave nproc at 1 and list the GPUs, e.g. device=[\"cuda:0\", \"cuda:1\"]."}},{"if":{"required":["amp"],"properties":{"amp":{"const":true}}},"then":{"required":["device"],"properties":{"device":{"items":{"type":"integer"}}}},"x-refusal":{"field":"amp","code":"amp_on_cpu","message":"AMP (mixed precision) needs a CUDA device; YOLOv5 trains in float32 on the CPU.","fix":"Set amp=False on the CPU, or train on a GPU such as device=\"cuda:0\"."}},{"if":{"required":["model","weights"],"properties":{"model":{"const":""},"weights":{"const":""}}},"then":{"properties":{"model":{"minLength":1}}},"x-refusal":{"field":"model","code":"model_missing","message":"Neither a model cfg nor weights are given.","fix":"Use model=\"yolov5n.yaml\" to train from scratch, or weights=\"path/to/best.pt\"."}}],"x-rules":{"device_visible":{"none":{"field":"device","code":"device_missing","message":"cuda:{missing} is not there: the kernel sees no GPU.","fix":"Use device=\"cpu\", or start the kernel where a GPU is visible (a container started with GPUs: yolo-lab up --gpus all)."},"some":{"field":"device","code":"device_missing","message":"cuda:{missing} is not there: the kernel sees {visible} GPU(s).","fix":"Pick one of: cpu, {visible_names}."}},"batch_divides_world":{"refused":{"field":"batch_size","code":"bad_batch_size","message":"Batch size {batch_size} does not divide by the {world} processes of the DDP run.","fix":"Use a multiple of {world}, e.g. {lower} or {upper}."}}}};
import func2 from 'ajv/dist/runtime/ucs2length';
const pattern0 = new RegExp("\\.ya?ml$", "u");
const pattern1 = new RegExp("(^$|\\.pt$)", "u");
const pattern2 = new RegExp("^cpu$", "u");
const pattern3 = new RegExp("^auto$", "u");
const pattern4 = new RegExp("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", "u");

function validate10(data, {instancePath="", parentData, parentDataProperty, rootData=data}={}){
/*# sourceURL="https://yolo-lab.invalid/protocol/train_params.schema.json" */;
let vErrors = null;
let errors = 0;
const _errs2 = errors;
let valid1 = true;
const _errs3 = errors;
if(data && typeof data == "object" && !Array.isArray(data)){
let missing0;
if((data.device === undefined) && (missing0 = "device")){
const err0 = {};
if(vErrors === null){
vErrors = [err0];
}
else {
vErrors.push(err0);
}
errors++;
}
else {
if(data.device !== undefined){
let data0 = data.device;
if(Array.isArray(data0)){
const _errs5 = errors;
const len0 = data0.length;
for(let i0=0; i0<len0; i0++){
const _errs6 = errors;
if("cpu" !== data0[i0]){
const err1 = {};
if(vErrors === null){
vErrors = [err1];
}
else {
vErrors.push(err1);
}
errors++;
}
var valid3 = _errs6 === errors;
if(valid3){
break;
}
}
if(!valid3){
const err2 = {};
if(vErrors === null){
vErrors = [err2];
}
else {
vErrors.push(err2);
}
errors++;
}
else {
errors = _errs5;
if(vErrors !== null){
if(_errs5){
vErrors.length = _errs5;
}
else {
vErrors = null;
}
}
}
}
}
}
}
var _valid0 = _errs3 === errors;
errors = _errs2;
if(vErrors !== null){
if(_errs2){
vErrors.length = _errs2;
}
else {
vErrors = null;
}
}
if(_valid0){
const _errs7 = errors;
if(data && typeof data == "object" && !Array.isArray(data)){
if(data.device !== undefined){
let data2 = data.device;
if(Array.isArray(data2)){
if(data2.length > 1){
const err3 = {instancePath:instancePath+"/device",schemaPath:"#/allOf/0/then/properties/device/maxItems",keyword:"maxItems",params:{limit: 1}};
if(vErrors === null){
vErrors = [err3];
}
else {
vErrors.push(err3);
}
errors++;
}
}
}
}
var _valid0 = _errs7 === errors;
valid1 = _valid0;
}
if(!valid1){
const err4 = {instancePath,schemaPath:"#/allOf/0/if",keyword:"if",params:{failingKeyword: "then"}};
if(vErrors === null){
vErrors = [err4];
}
else {
vErrors.push(err4);
}
errors++;
}
const _errs10 = errors;
let valid5 = true;
const _errs11 = errors;
if(data && typeof data == "object" && !Array.isArray(data)){
let missing1;
if((data.batch_size === undefined) && (missing1 = "batch_size")){
const err5 = {};
if(vErrors === null){
vErrors = [err5];
}
else {
vErrors.push(err5);
}
errors++;
}
else {
if(data.batch_size !== undefined){
if("auto" !== data.batch_size){
const err6 = {};
if(vErrors === null){
vErrors = [err6];
}
else {
vErrors.push(err6);
}
errors++;
}
}
}
}
var _valid1 = _errs11 === errors;
errors = _errs10;
if(vErrors !== null){
if(_errs10){
vErrors.length = _errs10;
}
else {
vErrors = null;
}
}
if(_valid1){
const _errs13 = errors;
if(data && typeof data == "object" && !Array.isArray(data)){
if(data.device === undefined){
const err7 = {instancePath,schemaPath:"#/allOf/1/then/required",keyword:"required",params:{missingProperty: "device"}};
if(vErrors === null){
vErrors = [err7];
}
else {
vErrors.push(err7);
}
errors++;
}
if(data.device !== undefined){
let data4 = data.device;
if(Array.isArray(data4)){
if(data4.length > 1){
const err8 = {instancePath:instancePath+"/device",schemaPath:"#/allOf/1/then/properties/device/maxItems",keyword:"maxItems",params:{limit: 1}};
if(vErrors === null){
vErrors = [err8];
}
else {
vErrors.push(err8);
}
errors++;
}
const len1 = data4.length;
for(let i1=0; i1<len1; i1++){
let data5 = data4[i1];
if(!((typeof data5 == "number") && (!(data5 % 1) && !isNaN(data5)))){
const err9 = {instancePath:instancePath+"/device/" + i1,schemaPath:"#/allOf/1/then/properties/device/items/type",keyword:"type",params:{type: "integer"}};
if(vErrors === null){
vErrors = [err9];
}
else {
vErrors.push(err9);
}
errors++;
}
}
}
}
}
var _valid1 = _errs13 === errors;
valid5 = _valid1;
}
if(!valid5){
const err10 = {instancePath,schemaPath:"#/allOf/1/if",keyword:"if",params:{failingKeyword: "then"}};
if(vErrors === null){
vErrors = [err10];
}
else {
vErrors.push(err10);
}
errors++;
}
const _errs18 = errors;
let valid10 = true;
const _errs19 = errors;
if(data && typeof data == "object" && !Array.isArray(data)){
let missing2;
if(((data.device === undefined) && (missing2 = "device")) || ((data.nproc === undefined) && (missing2 = "nproc"))){
const err11 = {};
if(vErrors === null){
vErrors = [err11];
}
else {
vErrors.push(err11);
}
errors++;
}
else {
if(data.device !== undefined){
let data6 = data.device;
if(Array.isArray(data6)){
var valid12 = true;
const len2 = data6.length;
for(let i2=0; i2<len2; i2++){
let data7 = data6[i2];
const _errs21 = errors;
if(!((typeof data7 == "number") && (!(data7 % 1) && !isNaN(data7)))){
const err12 = {};
if(vErrors === null){
vErrors = [err12];
}
else {
vErrors.push(err12);
}
errors++;
}
var valid12 = _errs21 === errors;
if(!valid12){
break;
}
}
}
}
}
}
var _valid2 = _errs19 === errors;
errors = _errs18;
if(vErrors !== null){
if(_errs18){
vErrors.length = _errs18;
}
else {
vErrors = null;
}
}
if(_valid2){
const _errs23 = errors;
if(data && typeof data == "object" && !Array.isArray(data)){
if(data.nproc !== undefined){
let data8 = data.nproc;
if(typeof data8 == "number"){
if(data8 > 1 || isNaN(data8)){
const err13 = {instancePath:instancePath+"/nproc",schemaPath:"#/allOf/2/then/properties/nproc/maximum",keyword:"maximum",params:{comparison: "<=", limit: 1}};
if(vErrors === null){
vErrors = [err13];
}
else {
vErrors.push(err13);
}
errors++;
}
}
}
}
var _valid2 = _errs23 === errors;
valid10 = _valid2;
}
if(!valid10){
const err14 = {instancePath,schemaPath:"#/allOf/2/if",keyword:"if",params:{failingKeyword: "then"}};
if(vErrors === null){
vErrors = [err14];
}
else {
vErrors.push(err14);
}
errors++;
}
const _errs26 = errors;
let valid14 = true;
const _errs27 = errors;
if(data && typeof data == "object" && !Array.isArray(data)){
let missing3;
if((data.amp === undefined) && (missing3 = "amp")){
const err15 = {};
if(vErrors === null){
vErrors = [err15];
}
else {
vErrors.push(err15);
}
errors++;
}
else {
if(data.amp !== undefined){
if(true !== data.amp){
const err16 = {};
if(vErrors === null){
vErrors = [err16];
}
else {
vErrors.push(err16);
}
errors++;
}
}
}
}
var _valid3 = _errs27 === errors;
errors = _errs26;
if(vErrors !== null){
if(_errs26){
vErrors.length = _errs26;
}
else {
vErrors = null;
}
}
if(_valid3){
const _errs29 = errors;
if(data && typeof data == "object" && !Array.isArray(data)){
if(data.device === undefined){
const err17 = {instancePath,schemaPath:"#/allOf/3/then/required",keyword:"required",params:{missingProperty: "device"}};
if(vErrors === null){
vErrors = [err17];
}
else {
vErrors.push(err17);
}
errors++;
}
if(data.device !== undefined){
let data10 = data.device;
if(Array.isArray(data10)){
const len3 = data10.length;
for(let i3=0; i3<len3; i3++){
let data11 = data10[i3];
if(!((typeof data11 == "number") && (!(data11 % 1) && !isNaN(data11)))){
const err18 = {instancePath:instancePath+"/device/" + i3,schemaPath:"#/allOf/3/then/properties/device/items/type",keyword:"type",params:{type: "integer"}};
if(vErrors === null){
vErrors = [err18];
}
else {
vErrors.push(err18);
}
errors++;
}
}
}
}
}
var _valid3 = _errs29 === errors;
valid14 = _valid3;
}
if(!valid14){
const err19 = {instancePath,schemaPath:"#/allOf/3/if",keyword:"if",params:{failingKeyword: "then"}};
if(vErrors === null){
vErrors = [err19];
}
else {
vErrors.push(err19);
}
errors++;
}
const _errs34 = errors;
let valid19 = true;
const _errs35 = errors;
if(data && typeof data == "object" && !Array.isArray(data)){
let missing4;
if(((data.model === undefined) && (missing4 = "model")) || ((data.weights === undefined) && (missing4 = "weights"))){
const err20 = {};
if(vErrors === null){
vErrors = [err20];
}
else {
vErrors.push(err20);
}
errors++;
}
else {
if(data.model !== undefined){
const _errs36 = errors;
if("" !== data.model){
const err21 = {};
if(vErrors === null){
vErrors = [err21];
}
else {
vErrors.push(err21);
}
errors++;
}
var valid20 = _errs36 === errors;
}
else {
var valid20 = true;
}
if(valid20){
if(data.weights !== undefined){
const _errs37 = errors;
if("" !== data.weights){
const err22 = {};
if(vErrors === null){
vErrors = [err22];
}
else {
vErrors.push(err22);
}
errors++;
}
var valid20 = _errs37 === errors;
}
else {
var valid20 = true;
}
}
}
}
var _valid4 = _errs35 === errors;
errors = _errs34;
if(vErrors !== null){
if(_errs34){
vErrors.length = _errs34;
}
else {
vErrors = null;
}
}
if(_valid4){
const _errs38 = errors;
if(data && typeof data == "object" && !Array.isArray(data)){
if(data.model !== undefined){
let data14 = data.model;
if(typeof data14 === "string"){
if(func2(data14) < 1){
const err23 = {instancePath:instancePath+"/model",schemaPath:"#/allOf/4/then/properties/model/minLength",keyword:"minLength",params:{limit: 1}};
if(vErrors === null){
vErrors = [err23];
}
else {
vErrors.push(err23);
}
errors++;
}
}
}
}
var _valid4 = _errs38 === errors;
valid19 = _valid4;
}
if(!valid19){
const err24 = {instancePath,schemaPath:"#/allOf/4/if",keyword:"if",params:{failingKeyword: "then"}};
if(vErrors === null){
vErrors = [err24];
}
else {
vErrors.push(err24);
}
errors++;
}
if(data && typeof data == "object" && !Array.isArray(data)){
if(data.data !== undefined){
let data15 = data.data;
if(typeof data15 === "string"){
if(func2(data15) < 1){
const err25 = {instancePath:instancePath+"/data",schemaPath:"#/properties/data/minLength",keyword:"minLength",params:{limit: 1}};
if(vErrors === null){
vErrors = [err25];
}
else {
vErrors.push(err25);
}
errors++;
}
if(!pattern0.test(data15)){
const err26 = {instancePath:instancePath+"/data",schemaPath:"#/properties/data/pattern",keyword:"pattern",params:{pattern: "\\.ya?ml$"}};
if(vErrors === null){
vErrors = [err26];
}
else {
vErrors.push(err26);
}
errors++;
}
}
else {
const err27 = {instancePath:instancePath+"/data",schemaPath:"#/properties/data/type",keyword:"type",params:{type: "string"}};
if(vErrors === null){
vErrors = [err27];
}
else {
vErrors.push(err27);
}
errors++;
}
}
if(data.model !== undefined){
if(typeof data.model !== "string"){
const err28 = {instancePath:instancePath+"/model",schemaPath:"#/properties/model/type",keyword:"type",params:{type: "string"}};
if(vErrors === null){
vErrors = [err28];
}
else {
vErrors.push(err28);
}
errors++;
}
}
if(data.weights !== undefined){
let data17 = data.weights;
if(typeof data17 === "string"){
if(!pattern1.test(data17)){
const err29 = {instancePath:instancePath+"/weights",schemaPath:"#/properties/weights/pattern",keyword:"pattern",params:{pattern: "(^$|\\.pt$)"}};
if(vErrors === null){
vErrors = [err29];
}
else {
vErrors.push(err29);
}
errors++;
}
}
else {
const err30 = {instancePath:instancePath+"/weights",schemaPath:"#/properties/weights/type",keyword:"type",params:{type: "string"}};
if(vErrors === null){
vErrors = [err30];
}
else {
vErrors.push(err30);
}
errors++;
}
}
if(data.device !== undefined){
let data18 = data.device;
if(Array.isArray(data18)){
if(data18.length < 1){
const err31 = {instancePath:instancePath+"/device",schemaPath:"#/properties/device/minItems",keyword:"minItems",params:{limit: 1}};
if(vErrors === null){
vErrors = [err31];
}
else {
vErrors.push(err31);
}
errors++;
}
const len4 = data18.length;
for(let i4=0; i4<len4; i4++){
let data19 = data18[i4];
if((!((typeof data19 == "number") && (!(data19 % 1) && !isNaN(data19)))) && (typeof data19 !== "string")){
const err32 = {instancePath:instancePath+"/device/" + i4,schemaPath:"#/properties/device/items/type",keyword:"type",params:{type: schema11.properties.device.items.type}};
if(vErrors === null){
vErrors = [err32];
}
else {
vErrors.push(err32);
}
errors++;
}
if(typeof data19 == "number"){
if(data19 < 0 || isNaN(data19)){
const err33 = {instancePath:instancePath+"/device/" + i4,schemaPath:"#/properties/device/items/minimum",keyword:"minimum",params:{comparison: ">=", limit: 0}};
if(vErrors === null){
vErrors = [err33];
}
else {
vErrors.push(err33);
}
errors++;
}
}
if(typeof data19 === "string"){
if(!pattern2.test(data19)){
const err34 = {instancePath:instancePath+"/device/" + i4,schemaPath:"#/properties/device/items/pattern",keyword:"pattern",params:{pattern: "^cpu$"}};
if(vErrors === null){
vErrors = [err34];
}
else {
vErrors.push(err34);
}
errors++;
}
}
}
let i5 = data18.length;
let j0;
if(i5 > 1){
const indices0 = {};
for(;i5--;){
let item0 = data18[i5];
if((!((typeof item0 == "number") && (!(item0 % 1) && !isNaN(item0)))) && (typeof item0 !== "string")){
continue;
}
if(typeof item0 == "string"){
item0 += "_";
}
if(typeof indices0[item0] == "number"){
j0 = indices0[item0];
const err35 = {instancePath:instancePath+"/device",schemaPath:"#/properties/device/uniqueItems",keyword:"uniqueItems",params:{i: i5, j: j0}};
if(vErrors === null){
vErrors = [err35];
}
else {
vErrors.push(err35);
}
errors++;
break;
}
indices0[item0] = i5;
}
}
}
else {
const err36 = {instancePath:instancePath+"/device",schemaPath:"#/properties/device/type",keyword:"type",params:{type: "array"}};
if(vErrors === null){
vErrors = [err36];
}
else {
vErrors.push(err36);
}
errors++;
}
}
if(data.nproc !== undefined){
let data20 = data.nproc;
if(!((typeof data20 == "number") && (!(data20 % 1) && !isNaN(data20)))){
const err37 = {instancePath:instancePath+"/nproc",schemaPath:"#/properties/nproc/type",keyword:"type",params:{type: "integer"}};
if(vErrors === null){
vErrors = [err37];
}
else {
vErrors.push(err37);
}
errors++;
}
if(typeof data20 == "number"){
if(data20 > 16 || isNaN(data20)){
const err38 = {instancePath:instancePath+"/nproc",schemaPath:"#/properties/nproc/maximum",keyword:"maximum",params:{comparison: "<=", limit: 16}};
if(vErrors === null){
vErrors = [err38];
}
else {
vErrors.push(err38);
}
errors++;
}
if(data20 < 1 || isNaN(data20)){
const err39 = {instancePath:instancePath+"/nproc",schemaPath:"#/properties/nproc/minimum",keyword:"minimum",params:{comparison: ">=", limit: 1}};
if(vErrors === null){
vErrors = [err39];
}
else {
vErrors.push(err39);
}
errors++;
}
}
}
if(data.batch_size !== undefined){
let data21 = data.batch_size;
if((!((typeof data21 == "number") && (!(data21 % 1) && !isNaN(data21)))) && (typeof data21 !== "string")){
const err40 = {instancePath:instancePath+"/batch_size",schemaPath:"#/properties/batch_size/type",keyword:"type",params:{type: schema11.properties.batch_size.type}};
if(vErrors === null){
vErrors = [err40];
}
else {
vErrors.push(err40);
}
errors++;
}
if(typeof data21 == "number"){
if(data21 > 1024 || isNaN(data21)){
const err41 = {instancePath:instancePath+"/batch_size",schemaPath:"#/properties/batch_size/maximum",keyword:"maximum",params:{comparison: "<=", limit: 1024}};
if(vErrors === null){
vErrors = [err41];
}
else {
vErrors.push(err41);
}
errors++;
}
if(data21 < 1 || isNaN(data21)){
const err42 = {instancePath:instancePath+"/batch_size",schemaPath:"#/properties/batch_size/minimum",keyword:"minimum",params:{comparison: ">=", limit: 1}};
if(vErrors === null){
vErrors = [err42];
}
else {
vErrors.push(err42);
}
errors++;
}
}
if(typeof data21 === "string"){
if(!pattern3.test(data21)){
const err43 = {instancePath:instancePath+"/batch_size",schemaPath:"#/properties/batch_size/pattern",keyword:"pattern",params:{pattern: "^auto$"}};
if(vErrors === null){
vErrors = [err43];
}
else {
vErrors.push(err43);
}
errors++;
}
}
}
if(data.amp !== undefined){
let data22 = data.amp;
if((typeof data22 !== "boolean") && (data22 !== null)){
const err44 = {instancePath:instancePath+"/amp",schemaPath:"#/properties/amp/type",keyword:"type",params:{type: schema11.properties.amp.type}};
if(vErrors === null){
vErrors = [err44];
}
else {
vErrors.push(err44);
}
errors++;
}
}
if(data.epochs !== undefined){
let data23 = data.epochs;
if(!((typeof data23 == "number") && (!(data23 % 1) && !isNaN(data23)))){
const err45 = {instancePath:instancePath+"/epochs",schemaPath:"#/properties/epochs/type",keyword:"type",params:{type: "integer"}};
if(vErrors === null){
vErrors = [err45];
}
else {
vErrors.push(err45);
}
errors++;
}
if(typeof data23 == "number"){
if(data23 > 100000 || isNaN(data23)){
const err46 = {instancePath:instancePath+"/epochs",schemaPath:"#/properties/epochs/maximum",keyword:"maximum",params:{comparison: "<=", limit: 100000}};
if(vErrors === null){
vErrors = [err46];
}
else {
vErrors.push(err46);
}
errors++;
}
if(data23 < 1 || isNaN(data23)){
const err47 = {instancePath:instancePath+"/epochs",schemaPath:"#/properties/epochs/minimum",keyword:"minimum",params:{comparison: ">=", limit: 1}};
if(vErrors === null){
vErrors = [err47];
}
else {
vErrors.push(err47);
}
errors++;
}
}
}
if(data.imgsz !== undefined){
let data24 = data.imgsz;
if(!((typeof data24 == "number") && (!(data24 % 1) && !isNaN(data24)))){
const err48 = {instancePath:instancePath+"/imgsz",schemaPath:"#/properties/imgsz/type",keyword:"type",params:{type: "integer"}};
if(vErrors === null){
vErrors = [err48];
}
else {
vErrors.push(err48);
}
errors++;
}
if(typeof data24 == "number"){
if(data24 > 8192 || isNaN(data24)){
const err49 = {instancePath:instancePath+"/imgsz",schemaPath:"#/properties/imgsz/maximum",keyword:"maximum",params:{comparison: "<=", limit: 8192}};
if(vErrors === null){
vErrors = [err49];
}
else {
vErrors.push(err49);
}
errors++;
}
if(data24 < 32 || isNaN(data24)){
const err50 = {instancePath:instancePath+"/imgsz",schemaPath:"#/properties/imgsz/minimum",keyword:"minimum",params:{comparison: ">=", limit: 32}};
if(vErrors === null){
vErrors = [err50];
}
else {
vErrors.push(err50);
}
errors++;
}
}
}
if(data.workers !== undefined){
let data25 = data.workers;
if(!((typeof data25 == "number") && (!(data25 % 1) && !isNaN(data25)))){
const err51 = {instancePath:instancePath+"/workers",schemaPath:"#/properties/workers/type",keyword:"type",params:{type: "integer"}};
if(vErrors === null){
vErrors = [err51];
}
else {
vErrors.push(err51);
}
errors++;
}
if(typeof data25 == "number"){
if(data25 > 64 || isNaN(data25)){
const err52 = {instancePath:instancePath+"/workers",schemaPath:"#/properties/workers/maximum",keyword:"maximum",params:{comparison: "<=", limit: 64}};
if(vErrors === null){
vErrors = [err52];
}
else {
vErrors.push(err52);
}
errors++;
}
if(data25 < 0 || isNaN(data25)){
const err53 = {instancePath:instancePath+"/workers",schemaPath:"#/properties/workers/minimum",keyword:"minimum",params:{comparison: ">=", limit: 0}};
if(vErrors === null){
vErrors = [err53];
}
else {
vErrors.push(err53);
}
errors++;
}
}
}
if(data.cache !== undefined){
let data26 = data.cache;
if(!(((data26 === null) || (data26 === "ram")) || (data26 === "disk"))){
const err54 = {instancePath:instancePath+"/cache",schemaPath:"#/properties/cache/enum",keyword:"enum",params:{allowedValues: schema11.properties.cache.enum}};
if(vErrors === null){
vErrors = [err54];
}
else {
vErrors.push(err54);
}
errors++;
}
}
if(data.name !== undefined){
let data27 = data.name;
if(typeof data27 === "string"){
if(!pattern4.test(data27)){
const err55 = {instancePath:instancePath+"/name",schemaPath:"#/properties/name/pattern",keyword:"pattern",params:{pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"}};
if(vErrors === null){
vErrors = [err55];
}
else {
vErrors.push(err55);
}
errors++;
}
}
else {
const err56 = {instancePath:instancePath+"/name",schemaPath:"#/properties/name/type",keyword:"type",params:{type: "string"}};
if(vErrors === null){
vErrors = [err56];
}
else {
vErrors.push(err56);
}
errors++;
}
}
if(data.project !== undefined){
if(typeof data.project !== "string"){
const err57 = {instancePath:instancePath+"/project",schemaPath:"#/properties/project/type",keyword:"type",params:{type: "string"}};
if(vErrors === null){
vErrors = [err57];
}
else {
vErrors.push(err57);
}
errors++;
}
}
}
else {
const err58 = {instancePath,schemaPath:"#/type",keyword:"type",params:{type: "object"}};
if(vErrors === null){
vErrors = [err58];
}
else {
vErrors.push(err58);
}
errors++;
}
validate10.errors = vErrors;
return errors === 0;
}


/** The definition the checks were compiled from. */
export const definition = schema11;
