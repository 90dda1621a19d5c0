from yolo_lab import train

run = train(
    data="shapes/data.yaml",
    model="yolov5n.yaml",
    device="cuda:0",
    batch_size=16,
    amp=None,
    epochs=3,
    imgsz=640,
    workers=2,
    cache=None,
    name="exp",
)
run
